"""Live pushes of orders and fills (delivered by notifications when the transaction
commits; nothing is sent if it rolls back)."""

from __future__ import annotations

from notifications.services import publish
from orders.models import Order
from orders.serializers import OrderSerializer
from pnl.models import Fill
from pnl.serializers import FillSerializer

ORDERS_CHANNEL = "orders"
FILLS_CHANNEL = "fills"


def order_publish(order: Order) -> None:
    publish(
        channel=ORDERS_CHANNEL,
        event="order.updated",
        data=OrderSerializer(order).data,
        account_id=order.account_id,
    )


def fill_publish(fill: Fill) -> None:
    publish(
        channel=FILLS_CHANNEL,
        event="fill.created",
        data=FillSerializer(fill).data,
        account_id=fill.account_id,
    )
