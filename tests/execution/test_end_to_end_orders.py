"""Execution with the real orders service as the report sink, through the REST API."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import RiskLimits
from orders import models as orders_models
from tests.factories import UserFactory, account_with_member

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders"


@pytest.fixture
def submit(django_capture_on_commit_callbacks):
    def _submit():
        return django_capture_on_commit_callbacks(execute=True)

    return _submit


def body(account, **overrides):
    data = {
        "account": str(account.pk),
        "symbol": "ACME",
        "side": "buy",
        "type": "limit",
        "qty": "10",
        "limit_price": "100.00",
        "time_in_force": "day",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def order_row(order_id):
    return orders_models.Order.objects.get(pk=order_id)


def test_two_exchange_accounts_trade_through_the_api(acme, tick, make_key_client, trader, submit):
    # given a seller and a buyer, each with an exchange account, and a quote (price band)
    tick("ACME", last="100", bid="99.95", ask="100.05")
    seller_user = UserFactory(username="seller", role="trader")
    seller = account_with_member(user=seller_user, broker="exchange", cash=Decimal("1000000"))
    RiskLimits.objects.filter(account=seller).update(allow_short=True)
    buyer = account_with_member(user=trader, broker="exchange", cash=Decimal("1000000"))
    seller_client, buyer_client = make_key_client(seller_user), make_key_client(trader)
    # when the seller rests a sell of 10 at 100.00 and the buyer bids 100.05 for 10
    with submit():
        sell = seller_client.post(
            URL, body(seller, side="sell", limit_price="100.00"), format="json"
        )
    assert sell.status_code == 201, sell.json()
    assert order_row(sell.json()["id"]).status == "new"
    book = buyer_client.get("/api/v1/orderbook/ACME").json()
    assert book["asks"] == [{"price": "100", "qty": "10", "orders": 1}]
    with submit():
        buy = buyer_client.post(URL, body(buyer, side="buy", limit_price="100.05"), format="json")
    assert buy.status_code == 201, buy.json()
    # then both orders are filled at the resting price 100.00
    sold, bought = order_row(sell.json()["id"]), order_row(buy.json()["id"])
    assert (sold.status, sold.filled_qty, sold.avg_fill_price) == ("filled", 10, Decimal("100"))
    assert (bought.status, bought.filled_qty, bought.avg_fill_price) == (
        "filled",
        10,
        Decimal("100"),
    )
    # and the trade moved the last price, and the book is empty again
    detail = buyer_client.get("/api/v1/market-data?symbols=ACME").json()
    assert detail["results"][0]["last"] == "100"
    book = buyer_client.get("/api/v1/orderbook/ACME").json()
    assert book["asks"] == [] and book["bids"] == []


def test_exchange_order_cancel_through_the_api(acme, tick, make_key_client, trader, submit):
    tick("ACME", last="100", bid="99.95", ask="100.05")
    account = account_with_member(user=trader, broker="exchange", cash=Decimal("1000000"))
    client = make_key_client(trader)
    with submit():
        placed = client.post(URL, body(account, limit_price="99.00"), format="json").json()
    with submit():
        response = client.delete(f"{URL}/{placed['id']}")
    assert response.status_code == 200, response.json()
    assert order_row(placed["id"]).status == "canceled"
    assert client.get("/api/v1/orderbook/ACME").json()["bids"] == []


def test_paper_market_and_limit_orders_fill_through_the_api(
    acme, tick, make_key_client, trader, submit
):
    tick("ACME", last="100", bid="99.95", ask="100.05")
    account = account_with_member(user=trader, broker="paper", cash=Decimal("1000000"))
    client = make_key_client(trader)
    with submit():
        market = client.post(
            URL, body(account, type="market", limit_price=None), format="json"
        ).json()
        limit = client.post(URL, body(account, limit_price="99.00"), format="json").json()
    filled = order_row(market["id"])
    assert (filled.status, filled.avg_fill_price) == ("filled", Decimal("100.05"))
    assert order_row(limit["id"]).status == "new"
    # when the ask drops through the limit, the resting paper order fills at the ask
    with submit():
        tick("ACME", last="98.95", bid="98.90", ask="98.95")
    resting = order_row(limit["id"])
    assert (resting.status, resting.avg_fill_price) == ("filled", Decimal("98.95"))
