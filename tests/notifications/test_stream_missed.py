"""Numbered pushes (`seq`, per user) and GET /api/v1/stream/missed?after=<seq>."""

from __future__ import annotations

import pytest
from django.test import override_settings

from accounts.models import AccountMembership
from notifications.services import publish_now
from tests.factories import UserFactory, account_with_member

pytestmark = pytest.mark.django_db

MISSED = "/api/v1/stream/missed"


def _order(account, n: int) -> None:
    publish_now(
        channel="orders",
        event="order.updated",
        data={"id": f"order-{n}", "account": str(account.pk)},
        account_id=account.pk,
    )


@pytest.fixture
def account(trader):
    return account_with_member(user=trader)


def test_missed_returns_the_users_pushes_after_a_seq_oldest_first(trader, account, make_key_client):
    # given three pushes for the trader: two orders of their account and a notification
    _order(account, 1)
    publish_now(channel="notifications", event="notification.read_all", data={}, user_id=trader.pk)
    _order(account, 2)
    client = make_key_client(trader)

    # when they ask for what came after the first
    body = client.get(MISSED, {"after": 1}).json()

    # then they get the other two, numbered on from it, in the list shape
    assert body["count"] == 2
    assert body["next"] is None and body["previous"] is None
    assert [(p["seq"], p["channel"], p["event"]) for p in body["results"]] == [
        (2, "notifications", "notification.read_all"),
        (3, "orders", "order.updated"),
    ]
    assert body["results"][1]["data"] == {"id": "order-2", "account": str(account.pk)}
    assert body["results"][1]["account"] == str(account.pk)
    assert body["results"][1]["at"].endswith("Z") or body["results"][1]["at"].endswith("+00:00")
    assert body["last_seq"] == 3
    assert body["complete"] is True
    # and nothing after the last one
    caught_up = client.get(MISSED, {"after": 3}).json()
    assert (caught_up["count"], caught_up["complete"]) == (0, True)


def test_one_event_is_numbered_for_each_user_on_their_own(trader, account, make_key_client):
    # given a colleague who shares the account, and an account of the trader's alone
    colleague = UserFactory(username="colleague")
    AccountMembership.objects.create(user=colleague, account=account, role="view")
    own = account_with_member(user=trader)

    # when an order of the trader's own account, then one of the shared account, go out
    _order(own, 1)
    _order(account, 2)

    # then the trader has 1 and 2, the colleague only the shared one, as their 1
    mine = make_key_client(trader).get(MISSED, {"after": 0}).json()["results"]
    theirs = make_key_client(colleague).get(MISSED, {"after": 0}).json()["results"]
    assert [(p["seq"], p["data"]["id"]) for p in mine] == [(1, "order-1"), (2, "order-2")]
    assert [(p["seq"], p["data"]["id"]) for p in theirs] == [(1, "order-2")]


def test_missed_shows_only_accounts_the_caller_may_see_now(trader, account, make_key_client):
    colleague = UserFactory(username="colleague")
    AccountMembership.objects.create(user=colleague, account=account, role="view")
    _order(account, 1)

    # when the colleague loses access before asking
    AccountMembership.objects.filter(user=colleague).delete()

    body = make_key_client(colleague).get(MISSED, {"after": 0}).json()
    assert (body["count"], body["results"]) == (0, [])


def test_pages_follow_the_last_seq(trader, account, make_key_client):
    for n in range(5):
        _order(account, n)
    client = make_key_client(trader)

    first = client.get(MISSED, {"after": 0, "limit": 2}).json()
    assert first["count"] == 5
    assert [p["seq"] for p in first["results"]] == [1, 2]
    assert "after=2" in first["next"] and "limit=2" in first["next"]

    second = client.get(first["next"]).json()
    assert second["count"] == 3
    assert [p["seq"] for p in second["results"]] == [3, 4]


@override_settings(OMS_STREAM_RETENTION_MAX=2)
def test_pushes_no_longer_kept_make_the_answer_incomplete(trader, account, make_key_client):
    # given four pushes while only two are kept per user
    for n in range(4):
        _order(account, n)
    client = make_key_client(trader)

    # then asking from the start says some are gone (re-read over REST) ...
    from_start = client.get(MISSED, {"after": 0}).json()
    assert [p["seq"] for p in from_start["results"]] == [3, 4]
    assert from_start["complete"] is False
    # ... and asking from a seq still covered is complete
    assert client.get(MISSED, {"after": 2}).json()["complete"] is True
    # and a seq this server never gave is not trusted
    assert client.get(MISSED, {"after": 99}).json()["complete"] is False


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"after": "abc"},
        {"after": -1},
        {"after": 1, "limit": 0},
        # only plain ASCII digits, as everywhere in the API
        {"after": "1_0"},
        {"after": "１"},
        {"after": " 1 "},
        {"after": "1.0"},
        {"after": 1, "limit": "1_0"},
    ],
)
def test_bad_after_or_limit_is_a_validation_error(query, trader, make_key_client):
    resp = make_key_client(trader).get(MISSED, query)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["fields"]) <= {"after", "limit"} and error["fields"]


def test_missed_needs_credentials(api_client):
    resp = api_client.get(MISSED, {"after": 0})
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "not_authenticated"


def test_the_schema_documents_it(api_client):
    schema = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/stream/missed/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"after", "limit"}
    assert "200" in operation["responses"]
