"""A trailing stop on the paper broker, end to end: the stop rises with the price, never
falls back, is visible on the order, and triggers on the pull-back."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.models import Order

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders"


def test_trailing_stop_rises_with_the_price_and_triggers_on_the_pull_back(
    client, paper, quoted, tick, submit, captured
):
    # given a sell trailing stop 2.00 under the market at 100 (stop 98)
    body = {
        "account": str(paper.pk),
        "symbol": "ACME",
        "side": "sell",
        "type": "trailing_stop",
        "qty": "5",
        "trail_price": "2",
        "time_in_force": "gtc",
    }
    response = client.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    order_id = response.json()["id"]
    assert response.json()["stop_price"] == "98" and response.json()["status"] == "held"
    # when the market rises to 104, the stop follows to 102 — visible over the API
    for last in ("101", "103", "104"):
        tick(last=last, bid=str(Decimal(last) - Decimal("0.05")), ask=last)
    assert client.get(f"{URL}/{order_id}").json()["stop_price"] == "102"
    # the stop never loosens on a dip that does not reach it
    tick(last="102.5", bid="102.45", ask="102.55")
    assert client.get(f"{URL}/{order_id}").json()["stop_price"] == "102"
    moves = [
        e["data"]["stop_price"]
        for e in client.get(f"{URL}/{order_id}/events").json()["results"]
        if e["type"] == "stop_moved"
    ]
    assert moves == ["99", "101", "102"]
    pushed = [d["stop_price"] for ch, ev, d in captured if ch == "orders" and d["id"] == order_id]
    assert "102" in pushed
    # when the trader widens the trail to 3 %, the stop is recomputed from the 104 mark
    response = client.patch(f"{URL}/{order_id}", {"trail_percent": "3"}, format="json")
    assert response.status_code == 200 and response.json()["stop_price"] == "100.85"
    # when the price pulls back to the stop, it triggers and sells at the bid
    with submit():
        tick(last="100.85", bid="100.8", ask="100.9")
    order = Order.objects.get(pk=order_id)
    assert order.status == "filled" and order.avg_fill_price == Decimal("100.8")
    types = list(order.events.order_by("seq").values_list("type", flat=True))
    assert types[-4:] == ["triggered", "submitted", "accepted", "fill"]
