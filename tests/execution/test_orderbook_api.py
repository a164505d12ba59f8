"""GET /api/v1/orderbook/{symbol}?depth= and the order book page."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from execution.exchange.depth import depth_snapshot_clear
from execution.models import Venue, VenueOrder
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def rest(symbol: str, side: str, price: str, qty: str, *, visible: str | None = None, seq: int = 1):
    return VenueOrder.objects.create(
        order_id=str(uuid.uuid4()),
        venue=Venue.EXCHANGE,
        account_id="acct",
        symbol=symbol,
        side=side,
        type="limit",
        qty=Decimal(qty),
        visible_qty=Decimal(visible or qty),
        display_qty=Decimal(visible) if visible else None,
        limit_price=Decimal(price),
        tif="gtc",
        status="open",
        seq=seq,
    )


@pytest.fixture
def book(acme):
    rest("ACME", "buy", "9.90", "10")
    rest("ACME", "buy", "9.90", "5")
    rest("ACME", "buy", "9.85", "7")
    rest("ACME", "buy", "9.80", "1")
    rest("ACME", "sell", "10.00", "50", visible="10")  # iceberg: only 10 shows
    rest("ACME", "sell", "10.05", "3")
    # not in the book: another venue, a filled order
    VenueOrder.objects.create(
        order_id="paper-1",
        venue=Venue.PAPER,
        account_id="a",
        symbol="ACME",
        side="buy",
        type="limit",
        qty=Decimal("99"),
        visible_qty=Decimal("99"),
        limit_price=Decimal("9.95"),
        tif="day",
        status="open",
    )
    done = rest("ACME", "buy", "9.95", "4")
    done.status = "filled"
    done.save()
    depth_snapshot_clear(symbol="ACME")


def test_orderbook_shape_best_first_visible_qty_only(book, make_key_client, trader):
    client = make_key_client(trader)
    response = client.get("/api/v1/orderbook/ACME?depth=2")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"symbol", "bids", "asks", "ts"}
    assert body["symbol"] == "ACME"
    assert body["bids"] == [
        {"price": "9.9", "qty": "15", "orders": 2},
        {"price": "9.85", "qty": "7", "orders": 1},
    ]
    assert body["asks"] == [
        {"price": "10", "qty": "10", "orders": 1},
        {"price": "10.05", "qty": "3", "orders": 1},
    ]
    assert body["ts"].endswith("Z")
    # trailing slash optional, lower-case symbol accepted, default depth 10
    again = client.get("/api/v1/orderbook/acme/").json()
    assert len(again["bids"]) == 3


def test_orderbook_uses_the_shard_snapshot_when_present(book, make_key_client, trader):
    from django.utils import timezone

    from execution.exchange.depth import depth_payload, depth_snapshot_store

    payload = depth_payload(
        symbol="ACME",
        bids=[(Decimal("9.9"), Decimal("1"), 1), (Decimal("9.8"), Decimal("2"), 1)],
        asks=[],
        ts=timezone.now(),
    )
    depth_snapshot_store(symbol="ACME", payload=payload)
    body = make_key_client(trader).get("/api/v1/orderbook/ACME?depth=1").json()
    assert body["bids"] == [{"price": "9.9", "qty": "1", "orders": 1}]


def test_orderbook_errors(book, api_client, make_key_client, trader):
    assert api_client.get("/api/v1/orderbook/ACME").status_code == 401
    client = make_key_client(trader)
    missing = client.get("/api/v1/orderbook/NOPE")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    for bad in ("0", "51", "abc", "-1"):
        response = client.get(f"/api/v1/orderbook/ACME?depth={bad}")
        assert response.status_code == 400
        assert response.json()["error"]["fields"] == {
            "depth": ["Must be a whole number from 1 to 50."]
        }


def test_orderbook_page_renders_live_depth(book, client, trader):
    client.login(username=trader.username, password=DEFAULT_PASSWORD)
    response = client.get("/orderbook/ACME/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-symbol="ACME"' in html
    assert "9.85" in html and "10.05" in html
    assert "js/execution/orderbook.js" in html
    assert client.get("/orderbook/acme/").url == "/orderbook/ACME/"
    assert client.get("/orderbook/").url == "/orderbook/ACME/"
    assert client.get("/orderbook/NOPE/").status_code == 404


def test_orderbook_page_needs_login(book, client):
    response = client.get("/orderbook/ACME/")
    assert response.status_code == 302
    assert "login" in response.url
