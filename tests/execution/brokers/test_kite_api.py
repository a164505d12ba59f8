"""The Kite login and postback endpoints (API.md § Brokers)."""

from __future__ import annotations

import pytest

from accounts.models import BrokerConnection
from execution.adapters.kite import KiteBroker
from execution.fakes.kite_book import sha256_hex
from execution.protocol import ReportType
from tests.execution.brokers.conftest import API_SECRET, kite_account_make
from tests.execution.factories import order_request
from tests.factories import MembershipFactory, TradingAccountFactory, UserFactory


@pytest.fixture
def member(kite_account):
    user = UserFactory(role="trader", username="kiteuser")
    MembershipFactory(user=user, account=kite_account, role="trade")
    return user


def _url(account, tail: str) -> str:
    return f"/api/v1/accounts/{account.pk}/broker/{tail}"


def _postback_url(account) -> str:
    return f"/api/v1/brokers/kite/postback/{account.pk}"


# ------------------------------------------------------------------ login


def test_a_member_gets_the_login_url(make_key_client, member, kite_account, kite_fake):
    answer = make_key_client(member).get(_url(kite_account, "login"))
    assert answer.status_code == 200
    assert answer.json() == {"login_url": f"{kite_fake.login_url}?api_key=kite_test_key&v=3"}


def test_other_users_accounts_are_not_found_and_viewers_may_not_log_in(
    make_key_client, kite_account
):
    stranger = UserFactory(role="trader", username="stranger")
    assert make_key_client(stranger).get(_url(kite_account, "login")).status_code == 404
    viewer = UserFactory(role="trader", username="viewer")
    MembershipFactory(user=viewer, account=kite_account, role="view")
    answer = make_key_client(viewer).post(
        _url(kite_account, "session"), {"request_token": "x"}, format="json"
    )
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "permission_denied"


def test_a_paper_account_has_no_kite_login(make_key_client, member):
    paper = TradingAccountFactory(broker="paper")
    MembershipFactory(user=member, account=paper, role="owner")
    answer = make_key_client(member).get(_url(paper, "login"))
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "invalid_state"


def test_completing_the_session_answers_the_broker_status(
    make_key_client, member, kite_account, kite_fake
):
    token = kite_fake.control("request_token")["request_token"]
    answer = make_key_client(member).post(
        _url(kite_account, "session"), {"request_token": token}, format="json"
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "connected" and "AB1234" in body["detail"]
    assert body["last_checked_at"]


def test_a_used_request_token_gives_the_error_status_in_words(
    make_key_client, member, kite_account, kite_fake
):
    answer = make_key_client(member).post(
        _url(kite_account, "session"), {"request_token": "never-issued"}, format="json"
    )
    assert answer.status_code == 200
    assert (
        answer.json()["status"] == "error" and "Kite refused the login" in answer.json()["detail"]
    )
    assert BrokerConnection.objects.get(pk=kite_account.connection_id).status == "error"


def test_the_session_needs_a_request_token(make_key_client, member, kite_account):
    client = make_key_client(member)
    missing = client.post(_url(kite_account, "session"), {}, format="json")
    extra = client.post(
        _url(kite_account, "session"), {"request_token": "a", "x": 1}, format="json"
    )
    assert missing.status_code == 400 and extra.status_code == 400
    assert missing.json()["error"]["code"] == "validation_error"


# ------------------------------------------------------------------ postbacks


def _placed_postback(kite_fake, kite_account) -> tuple[dict, str]:
    request = order_request(
        broker="kite",
        account_id=str(kite_account.pk),
        symbol="INFY",
        side="buy",
        qty="10",
        type="market",
    )
    KiteBroker().submit(request)
    return kite_fake.control("postbacks")[-1], request.order_id


def test_a_verified_postback_is_applied_once(api_client, kite_fake, kite_account, sink):
    payload, order_id = _placed_postback(kite_fake, kite_account)
    assert payload["status"] == "COMPLETE"
    first = api_client.post(_postback_url(kite_account), payload, format="json")
    again = api_client.post(_postback_url(kite_account), payload, format="json")
    assert first.status_code == 200 and first.json() == {"ok": True, "reports": 1}
    assert again.json() == {"ok": True, "reports": 0}
    assert sink.types(order_id) == [ReportType.FILL]


def test_a_postback_with_a_bad_checksum_is_refused(api_client, kite_fake, kite_account, sink):
    payload, _ = _placed_postback(kite_fake, kite_account)
    forged = {**payload, "checksum": sha256_hex(payload["order_id"], "2020-01-01", API_SECRET)}
    answer = api_client.post(_postback_url(kite_account), forged, format="json")
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "permission_denied"
    assert "checksum" in answer.json()["error"]["message"]
    assert sink.reports == []


def test_postbacks_for_unknown_accounts_or_without_fields_are_refused(
    api_client, kite_fake, kite_account
):
    payload, _ = _placed_postback(kite_fake, kite_account)
    paper = TradingAccountFactory(broker="paper")
    assert api_client.post(_postback_url(paper), payload, format="json").status_code == 404
    unknown = "/api/v1/brokers/kite/postback/not-an-account"
    assert api_client.post(unknown, payload, format="json").status_code == 404
    answer = api_client.post(_postback_url(kite_account), {"order_id": "1"}, format="json")
    assert answer.status_code == 400 and "checksum" in answer.json()["error"]["fields"]


def test_a_postback_for_an_order_oms_did_not_place_is_external(
    api_client, kite_fake, kite_account, sink
):
    # given an order placed in Kite's own app, and its postback as Kite would send it
    other = kite_account_make(kite_fake)
    payload, _ = _placed_postback(kite_fake, other)
    # when it reaches an account whose orders never included it
    answer = api_client.post(_postback_url(kite_account), payload, format="json")
    # then it is reported as external (the orders side imports it), not dropped
    assert answer.json()["reports"] >= 1
    assert {r.order_id for r in sink.reports} == {""}
    assert all(r.data["external"] is True for r in sink.reports)
    assert sink.reports[-1].data["symbol"] == "INFY"


def test_a_postback_that_cannot_be_applied_now_is_a_503_and_changes_nothing(
    api_client, kite_fake, kite_account, sink
):
    # given a fill postback, and Kite's trades cannot be read at this moment
    payload, _ = _placed_postback(kite_fake, kite_account)
    kite_fake.control("expire_session")
    # when it arrives, then OMS says so and applies nothing (polling applies it later)
    answer = api_client.post(_postback_url(kite_account), payload, format="json")
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "broker_unavailable"
    assert sink.reports == []
