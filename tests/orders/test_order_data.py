"""order_data_current (orders/core/serializers.py): the answer to a placement reuses the
representation its push made, and never a stale one."""

from __future__ import annotations

import pytest

from orders.core.serializers import order_data, order_data_current
from orders.models import Order, OrderStatus
from tests.orders.conftest import order_body

pytestmark = pytest.mark.django_db


def test_the_representation_is_reused_until_the_order_changes(client, account, quoted):
    # given an order shown once
    response = client.post("/api/v1/orders", order_body(account), format="json")
    order = Order.objects.get(pk=response.json()["id"])
    shown = order_data(order)

    # when it is asked for again unchanged, and after a change of state
    again = order_data_current(order)
    order.status, order.event_seq = OrderStatus.CANCELED, order.event_seq + 1
    changed = order_data_current(order)

    # then the first is the same object, the second a fresh one showing the change
    assert again is shown
    assert changed is not shown and changed["status"] == "canceled"
    assert response.json() == {**shown, "status": response.json()["status"]}
