"""A Kite account traded through OMS's own order API, with the real orders report sink."""

from __future__ import annotations

from decimal import Decimal

import pytest

from execution.registry import emit_reports, get_adapter
from orders.models import Order
from tests.execution.brokers.conftest import kite_account_make
from tests.factories import MembershipFactory, RiskLimitsFactory

# The adapter runs on the resilience wrapper's thread pool: it must see committed rows.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def trading(kite_fake, infy, tick, trader, make_key_client):
    tick("INFY", last="1500", bid="1500", ask="1501")
    account = kite_account_make(kite_fake)
    MembershipFactory(user=trader, account=account, role="owner")
    RiskLimitsFactory(account=account)
    return account, make_key_client(trader)


def _place(client, account, **overrides) -> dict:
    body = {
        "account": str(account.pk),
        "symbol": "INFY",
        "side": "buy",
        "type": "market",
        "qty": "10",
        "time_in_force": "day",
    }
    body.update(overrides)
    answer = client.post("/api/v1/orders", body, format="json")
    assert answer.status_code == 201, answer.json()
    return answer.json()


def test_a_market_order_is_acked_and_filled_by_kites_postback(trading, kite_fake, api_client):
    account, client = trading
    # when a trader buys 10 INFY on the Kite account
    placed = _place(client, account)
    order = Order.objects.get(pk=placed["id"])
    # then Kite has it, tagged with the order, and OMS shows it accepted
    assert order.status == "new" and order.broker_order_id
    assert kite_fake.book.orders[order.broker_order_id]["tag"] == placed["id"].replace("-", "")[:20]
    # and Kite's postback of the fill fills it, once
    postback = kite_fake.control("postbacks")[-1]
    for _ in range(2):
        answer = api_client.post(
            f"/api/v1/brokers/kite/postback/{account.pk}", postback, format="json"
        )
        assert answer.status_code == 200
    order.refresh_from_db()
    assert (order.status, order.filled_qty, order.avg_fill_price) == (
        "filled",
        Decimal("10"),
        Decimal("1501"),
    )


def test_a_resting_limit_order_is_partly_filled_modified_and_canceled_at_kite(
    trading, kite_fake, quotes
):
    account, client = trading
    placed = _place(client, account, type="limit", limit_price="1490")
    order = Order.objects.get(pk=placed["id"])
    broker_id = order.broker_order_id
    # Kite fills 4 of 10 (the stream runner's poll delivers it)
    kite_fake.control("partial_next", qty=4)
    quotes["NSE:INFY"] = {"bid": 1488, "ask": 1489, "last": 1489}
    kite_fake.control("match")
    emit_reports(get_adapter("kite").poll_reports(account_id=str(account.pk)))
    order.refresh_from_db()
    assert (order.status, order.filled_qty) == ("partially_filled", Decimal("4"))
    # the trader raises the quantity and the price: Kite's order changes in place
    quotes["NSE:INFY"] = {"bid": 1500, "ask": 1501, "last": 1500}
    answer = client.patch(
        f"/api/v1/orders/{order.pk}", {"qty": "12", "limit_price": "1495"}, format="json"
    )
    assert answer.status_code == 200, answer.json()
    assert (answer.json()["qty"], answer.json()["limit_price"]) == ("12", "1495")
    kite_order = kite_fake.book.orders[broker_id]
    assert (kite_order["quantity"], kite_order["price"]) == (12, 1495)
    # and cancels the rest
    answer = client.delete(f"/api/v1/orders/{order.pk}")
    assert answer.status_code == 200, answer.json()
    order.refresh_from_db()
    assert (order.status, order.filled_qty) == ("canceled", Decimal("4"))
    assert kite_fake.book.orders[broker_id]["status"] == "CANCELLED"
