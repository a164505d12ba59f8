"""GET /api/v1/orders (blotter filters), /orders/{id}, /orders/{id}/events; batch; preview."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Order
from tests.factories import account_with_member
from tests.orders.conftest import order_body
from tests.orders.factories import place

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders"


@pytest.fixture
def blotter(trader, account, limits, quoted, fake_broker, submit):
    """Three orders: a working buy, a held sell stop (short allowed), a filled buy."""
    limits.allow_short = True
    limits.save()
    with submit():
        working = place(trader, account)
    held = place(trader, account, side="sell", order_type="stop", limit_price=None, stop_price="95")
    fake_broker.mode = "fill"
    with submit():
        filled = place(trader, account, qty="5")
    return {"working": working, "held": held, "filled": filled}


def ids(response) -> set[str]:
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def test_list_is_paginated_and_newest_first(client, blotter):
    body = client.get(URL).json()
    assert body["count"] == 3 and body["next"] is None
    times = [row["created_at"] for row in body["results"]]
    assert times == sorted(times, reverse=True)
    page = client.get(URL + "?limit=2").json()
    assert len(page["results"]) == 2 and page["next"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=open", {"working", "held"}),
        ("status=closed", {"filled"}),
        ("status=all", {"working", "held", "filled"}),
        ("status=held", {"held"}),
        ("side=sell", {"held"}),
        ("symbol=acme", {"working", "held", "filled"}),
        ("symbol=FOO", set()),
    ],
)
def test_list_filters(client, blotter, query, expected):
    assert ids(client.get(f"{URL}?{query}")) == {str(blotter[name].pk) for name in expected}


def test_list_time_window_and_account_filter(client, trader, blotter):
    future = (timezone.now() + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    assert ids(client.get(f"{URL}?after={future}")) == set()
    assert len(ids(client.get(f"{URL}?until={future}"))) == 3
    other = account_with_member(user=trader, broker="fake")
    assert ids(client.get(f"{URL}?account={other.pk}")) == set()


@pytest.mark.parametrize("query", ["status=bogus", "side=long", "after=yesterday", "account=nope"])
def test_bad_filters_are_400(client, blotter, query):
    assert client.get(f"{URL}?{query}").status_code == 400


def test_list_never_shows_other_peoples_orders(make_key_client, other_user, blotter):
    assert ids(make_key_client(other_user).get(URL)) == set()
    account = blotter["working"].account
    assert ids(make_key_client(other_user).get(f"{URL}?account={account.pk}")) == set()


def test_admin_sees_every_order(make_key_client, admin_user, blotter):
    assert len(ids(make_key_client(admin_user).get(URL))) == 3


def test_detail_and_events(client, blotter):
    filled = blotter["filled"]
    detail = client.get(f"{URL}/{filled.pk}/")  # trailing slash optional
    assert detail.status_code == 200
    assert detail.json()["status"] == "filled" and detail.json()["legs"] == []
    assert detail.json()["avg_fill_price"] == "100"
    events = client.get(f"{URL}/{filled.pk}/events").json()["results"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert [e["type"] for e in events] == ["created", "submitted", "accepted", "fill"]
    assert set(events[0]) == {"seq", "type", "at", "actor", "data"}
    assert events[-1]["data"]["fill_qty"] == "5"


# --- batch ---------------------------------------------------------------------------------------


def test_batch_judges_each_order_on_its_own(client, account, limits, quoted, fake_broker):
    limits.max_order_qty = Decimal("50")
    limits.save()
    orders = [
        order_body(account),
        order_body(account, qty="0"),
        order_body(account, qty="60"),
        order_body(account, symbol="NOPE"),
    ]
    response = client.post(URL + "/batch", {"orders": orders}, format="json")
    assert response.status_code == 207
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 422, 400]
    assert results[0]["order"]["status"] == "pending_new"
    assert (
        results[1]["error"]["code"] == "validation_error" and "qty" in results[1]["error"]["fields"]
    )
    assert results[2]["error"]["code"] == "risk_rejected"
    assert results[2]["order"]["status"] == "rejected" and results[2]["order_id"]
    assert "symbol" in results[3]["error"]["fields"]
    assert Order.objects.count() == 2  # the accepted one and the risk-rejected one


def test_batch_over_100_is_400(client, account, quoted):
    response = client.post(URL + "/batch", {"orders": [order_body(account)] * 101}, format="json")
    assert response.status_code == 400
    assert Order.objects.count() == 0


def test_batch_with_client_order_ids_is_idempotent_per_item(client, account, quoted, fake_broker):
    orders = [
        order_body(account, client_order_id="b-1"),
        order_body(account, client_order_id="b-2"),
    ]
    first = client.post(URL + "/batch", {"orders": orders}, format="json").json()["results"]
    again = client.post(URL + "/batch", {"orders": orders}, format="json").json()["results"]
    assert [r["status"] for r in first] == [201, 201]
    assert [r["status"] for r in again] == [200, 200]
    assert Order.objects.count() == 2


# --- preview -------------------------------------------------------------------------------------


def test_preview_runs_the_checks_and_stores_nothing(client, account, limits, quoted):
    ok = client.post(URL + "/preview", order_body(account), format="json")
    assert ok.status_code == 200
    body = ok.json()
    assert body["ok"] is True and body["outcome"] == "accepted"
    assert body["est_value"] == "1000" and body["buying_power"] == "1000000"
    assert any(check["check"] == "buying_power" for check in body["checks"])
    limits.max_order_value = Decimal("500")
    limits.save()
    refused = client.post(URL + "/preview", order_body(account), format="json").json()
    assert refused["ok"] is False and refused["reason"] == "max_order_value"
    assert "above the limit of 500" in refused["message"]
    assert Order.objects.count() == 0


def test_preview_bad_input_is_400(client, account, quoted):
    response = client.post(URL + "/preview", order_body(account, limit_price="1.01"), format="json")
    assert response.status_code == 400


def test_schema_documents_the_orders_endpoints(client):
    schema = client.get("/api/v1/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/api/v1/orders",
        "/api/v1/orders/{order_id}",
        "/api/v1/orders/batch",
        "/api/v1/orders/{order_id}/events",
        "/api/v1/fills",
    ):
        assert any(p.rstrip("/") == path for p in paths), path
