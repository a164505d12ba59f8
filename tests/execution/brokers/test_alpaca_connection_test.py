"""The test button (POST /api/v1/accounts/{id}/broker/test) of an Alpaca account against the
loopback Alpaca fake (issue 15, Bad input and faults): wrong keys are said in words and the
status is `error`; a broker that stops answering is `disconnected` and trips the account's
circuit breaker. Members are told once per change."""

from __future__ import annotations

import pytest

from execution.fakes.alpaca_server import DEFAULT_KEY_ID
from execution.services import broker_caller
from notifications.models import Notification
from tests.execution.brokers.alpaca_support import *  # noqa: F403 - its fixtures
from tests.execution.brokers.test_alpaca_account_breakers import alpaca_account, dead_url

pytestmark = pytest.mark.django_db(transaction=True)


def told(account) -> list[str]:
    notes = Notification.objects.filter(kind="broker.status_changed", account=account)
    return [n.data["status"] for n in notes.order_by("created_at")]


def press(client, account) -> dict:
    answer = client.post(f"/api/v1/accounts/{account.pk}/broker/test")
    assert answer.status_code == 200, answer.content
    return answer.json()


def status(client, account) -> dict:
    return client.get(f"/api/v1/accounts/{account.pk}/broker").json()


def test_a_wrong_secret_is_said_in_words_and_the_status_is_error(
    fake, instrument, broker, trader, make_key_client
):
    # Given an Alpaca account whose secret key is wrong
    account = alpaca_account(fake, trader, "Alpaca typo", secret_key="not-the-secret")
    client = make_key_client(trader)
    # When the connection is tested (twice)
    body = press(client, account)
    press(client, account)
    # Then the answer says so in words
    assert body["ok"] is False
    assert body["detail"].startswith("Alpaca refused the key id / secret key (403 forbidden)")
    # and the status is error with the same words, its member told once
    assert status(client, account) | {"last_checked_at": None} == {
        "status": "error",
        "detail": body["detail"],
        "last_checked_at": None,
    }
    assert told(account) == ["error"]
    # and a refusal is an answer: the account's breaker stays closed
    assert broker_caller(broker="alpaca", account_id=str(account.pk)).breaker.state == "closed"


def test_a_wrong_key_id_is_said_in_words_too(fake, instrument, broker, trader, make_key_client):
    account = alpaca_account(fake, trader, "Alpaca other key", key_id=DEFAULT_KEY_ID + "X")
    body = press(make_key_client(trader), account)
    assert body["ok"] is False and "refused the key id / secret key" in body["detail"]


def test_a_broker_that_stops_answering_is_disconnected_and_trips_the_breaker(
    fake, instrument, broker, trader, make_key_client
):
    # Given an Alpaca account that answered the test
    account = alpaca_account(fake, trader, "Alpaca main")
    client = make_key_client(trader)
    assert press(client, account)["ok"] is True
    # When Alpaca stops answering and the test is pressed up to the breaker's threshold (3)
    fake_url = dead_url()
    from accounts.models import BrokerConnection

    connection = BrokerConnection.objects.get(pk=account.connection_id)
    connection.settings = {**connection.settings, "base_url": fake_url}
    connection.save(update_fields=["settings"])
    answers = [press(client, account) for _ in range(3)]
    # Then each answer says Alpaca is not answering, and the status is disconnected
    assert all(
        not a["ok"] and f"Could not reach Alpaca at {fake_url}" in a["detail"] for a in answers
    )
    assert status(client, account)["status"] == "disconnected"
    # and the account's breaker is open: the next test does not reach the broker
    assert broker_caller(broker="alpaca", account_id=str(account.pk)).breaker.state == "open"
    assert "circuit breaker open" in press(client, account)["detail"]
    # and the member was told of each change once
    assert told(account) == ["connected", "disconnected"]
