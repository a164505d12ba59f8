"""GET /api/v1/accounts/{id}/broker and POST …/broker/test (API.md § Brokers): the status of
an account's broker connection, the test button, one notification per change of state, the
circuit breaker making a broker's accounts `disconnected` until a call succeeds."""

from __future__ import annotations

import pytest

from accounts import services as account_services
from accounts.models import BrokerConnection
from execution.protocol import (
    BrokerUnavailableError,
    ConnectionCheck,
    PermanentBrokerError,
)
from notifications.models import Notification
from tests.factories import MembershipFactory, account_with_member

pytestmark = pytest.mark.django_db

CREDENTIALS = {"key_id": "PKTEST", "secret_key": "secret-value"}


@pytest.fixture
def alpaca_account(connected_broker, trader):
    return account_services.account_create(
        actor=trader, name="Alpaca main", broker="alpaca", credentials=CREDENTIALS
    )


def _status_notes(account):
    return list(
        Notification.objects.filter(kind="broker.status_changed", account=account).order_by(
            "created_at"
        )
    )


def test_an_untested_broker_account_is_disconnected_not_checked_yet(
    alpaca_account, make_key_client, trader
):
    # Given a new Alpaca account nobody tested yet
    # When its broker status is read
    body = make_key_client(trader).get(f"/api/v1/accounts/{alpaca_account.pk}/broker").json()
    # Then it says so
    assert body == {
        "status": "disconnected",
        "last_checked_at": None,
        "detail": "Not checked yet: run the connection test.",
    }


def test_a_paper_account_is_connected_to_its_internal_venue(make_key_client, trader):
    # Given a paper account
    account = account_with_member(user=trader)
    # When its broker status is read
    body = make_key_client(trader).get(f"/api/v1/accounts/{account.pk}/broker").json()
    # Then it is connected, and says why
    assert body["status"] == "connected"
    assert body["detail"] == "Internal venue (paper): always on."


def test_test_button_ok_connects_and_tells_the_members_once(
    alpaca_account, make_key_client, trader
):
    client = make_key_client(trader)
    url = f"/api/v1/accounts/{alpaca_account.pk}/broker"
    # Given an Alpaca account whose broker answers
    # When the connection is tested twice
    first = client.post(f"{url}/test")
    second = client.post(f"{url}/test/")
    # Then both answers say ok with the latency and detail
    assert first.status_code == 200
    assert first.json() == {
        "ok": True,
        "latency_ms": 12,
        "detail": "Alpaca answers (account ACTIVE).",
    }
    assert second.json()["ok"] is True
    # and the status is connected, checked just now
    status = client.get(url).json()
    assert status["status"] == "connected" and status["last_checked_at"] is not None
    # and the owner was told once (one change: not checked → connected)
    notes = _status_notes(alpaca_account)
    assert [(n.user, n.data["status"]) for n in notes] == [(trader, "connected")]


def test_wrong_credentials_say_so_and_the_status_is_error(
    connected_broker, alpaca_account, make_key_client, trader
):
    # Given a broker that refuses the key
    connected_broker.check = ConnectionCheck(
        False, 40, "Alpaca refused the key: forbidden.", "error"
    )
    client = make_key_client(trader)
    # When the connection is tested
    body = client.post(f"/api/v1/accounts/{alpaca_account.pk}/broker/test").json()
    # Then the answer says so in words, and the status is error with the same words
    assert body == {"ok": False, "latency_ms": 40, "detail": "Alpaca refused the key: forbidden."}
    status = client.get(f"/api/v1/accounts/{alpaca_account.pk}/broker").json()
    assert status["status"] == "error"
    assert status["detail"] == "Alpaca refused the key: forbidden."


def test_a_broker_not_answering_is_disconnected(
    connected_broker, alpaca_account, make_key_client, trader
):
    client = make_key_client(trader)
    # Given an account that was connected
    client.post(f"/api/v1/accounts/{alpaca_account.pk}/broker/test")
    # When the broker stops answering and the test runs again
    connected_broker.check_error = BrokerUnavailableError("connect timeout")
    body = client.post(f"/api/v1/accounts/{alpaca_account.pk}/broker/test").json()
    # Then the test says so, the status is disconnected, and that change was told
    assert body["ok"] is False and "not answering" in body["detail"]
    assert client.get(f"/api/v1/accounts/{alpaca_account.pk}/broker").json()["status"] == (
        "disconnected"
    )
    assert [n.data["status"] for n in _status_notes(alpaca_account)] == [
        "connected",
        "disconnected",
    ]


def test_a_permanent_refusal_raised_by_the_adapter_is_an_error(
    connected_broker, alpaca_account, make_key_client, trader
):
    # Given an adapter that raises a permanent refusal
    connected_broker.check_error = PermanentBrokerError("account blocked")
    # When the connection is tested
    body = make_key_client(trader).post(f"/api/v1/accounts/{alpaca_account.pk}/broker/test")
    # Then it is an answer (not a 5xx) naming the refusal
    assert body.status_code == 200
    assert body.json()["ok"] is False and "account blocked" in body.json()["detail"]
    assert BrokerConnection.objects.get(accounts=alpaca_account).status == "error"


def test_a_paper_account_test_is_ok_without_a_broker(make_key_client, trader):
    account = account_with_member(user=trader)
    body = make_key_client(trader).post(f"/api/v1/accounts/{account.pk}/broker/test").json()
    assert body["ok"] is True and "Internal venue" in body["detail"]


def test_other_users_accounts_are_not_found(alpaca_account, make_key_client, other_user):
    # Given someone who is not a member of the Alpaca account
    client = make_key_client(other_user)
    # When they read its status or run its test
    url = f"/api/v1/accounts/{alpaca_account.pk}/broker"
    # Then both are 404, as if it did not exist, and nothing was recorded
    assert client.get(url).status_code == 404
    assert client.post(f"{url}/test").status_code == 404
    assert BrokerConnection.objects.get(accounts=alpaca_account).last_checked_at is None


def test_view_only_members_read_the_status_but_cannot_test(
    alpaca_account, make_key_client, other_user
):
    # Given a view-only member
    MembershipFactory(user=other_user, account=alpaca_account, role="view")
    client = make_key_client(other_user)
    url = f"/api/v1/accounts/{alpaca_account.pk}/broker"
    # Then they may read the status but not run the test
    assert client.get(url).status_code == 200
    response = client.post(f"{url}/test")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_the_test_takes_an_idempotency_key(
    connected_broker, alpaca_account, make_key_client, trader
):
    client = make_key_client(trader)
    url = f"/api/v1/accounts/{alpaca_account.pk}/broker/test"
    # Given a test posted with an Idempotency-Key
    first = client.post(url, HTTP_IDEMPOTENCY_KEY="t-1")
    # When it is posted again with the same key after the broker changed its answer
    connected_broker.check = ConnectionCheck(False, 1, "changed", "error")
    again = client.post(url, HTTP_IDEMPOTENCY_KEY="t-1")
    # Then the first answer is replayed
    assert again.status_code == 200 and again.json() == first.json()


def test_an_open_circuit_breaker_disconnects_the_account_until_a_call_succeeds(
    connected_broker, alpaca_account, make_key_client, trader, settings
):
    from execution.services import broker_caller

    client = make_key_client(trader)
    url = f"/api/v1/accounts/{alpaca_account.pk}/broker"
    client.post(f"{url}/test")
    breaker = broker_caller(broker="alpaca", account_id=str(alpaca_account.pk)).breaker
    # Given a connected Alpaca account
    assert client.get(url).json()["status"] == "connected"
    # When the account's breaker opens after repeated failures
    for _ in range(breaker.threshold):
        breaker.record_failure("connect timeout")
    # Then the account is disconnected, in words, and its owner told once
    body = client.get(url).json()
    assert body["status"] == "disconnected" and "calls in a row failed" in body["detail"]
    assert "connect timeout" in body["detail"]
    assert BrokerConnection.objects.get(accounts=alpaca_account).status == "disconnected"
    # and when a call succeeds again, it is connected again
    breaker.record_success(dirty=True)
    assert client.get(url).json()["status"] == "connected"
    assert [n.data["status"] for n in _status_notes(alpaca_account)] == [
        "connected",
        "disconnected",
        "connected",
    ]


def test_one_accounts_open_breaker_leaves_the_brokers_other_accounts_trading(
    connected_broker, alpaca_account, trader
):
    from execution.services import broker_caller, broker_submit
    from tests.execution.factories import order_request

    other = account_services.account_create(
        actor=trader, name="Alpaca second", broker="alpaca", credentials=CREDENTIALS
    )
    sent: list[str] = []
    connected_broker.submit = lambda request: sent.append(request.account_id) or []
    # Given the first account's breaker open
    breaker = broker_caller(broker="alpaca", account_id=str(alpaca_account.pk)).breaker
    for _ in range(breaker.threshold):
        breaker.record_failure()

    def order(account):
        return order_request(
            broker="alpaca", account_id=str(account.pk), side="buy", qty="1", type="market"
        )

    # When both accounts send an order
    with pytest.raises(BrokerUnavailableError, match="circuit breaker open"):
        broker_submit(order(alpaca_account))
    broker_submit(order(other))
    # Then only the second one reached the broker, and only the first is disconnected
    assert sent == [str(other.pk)]
    assert BrokerConnection.objects.get(accounts=alpaca_account).status == "disconnected"
    assert BrokerConnection.objects.get(accounts=other).status == "unknown"
    assert _status_notes(other) == []


@pytest.fixture
def other_user():
    from tests.factories import UserFactory

    return UserFactory(role="trader", username="stranger")


def test_an_open_breaker_leaves_an_expired_session_as_it_is(
    connected_broker, alpaca_account, make_key_client, trader
):
    from execution.services import broker_caller

    # Given an account whose session expired
    connected_broker.check = ConnectionCheck(False, 5, "Log in again.", "session_expired")
    client = make_key_client(trader)
    client.post(f"/api/v1/accounts/{alpaca_account.pk}/broker/test")
    # When the broker's breaker opens and closes again
    breaker = broker_caller(broker="alpaca", account_id=str(alpaca_account.pk)).breaker
    for _ in range(breaker.threshold):
        breaker.record_failure()
    breaker.record_success(dirty=True)
    # Then the account still says its session expired
    body = client.get(f"/api/v1/accounts/{alpaca_account.pk}/broker").json()
    assert body["status"] == "session_expired" and body["detail"] == "Log in again."
