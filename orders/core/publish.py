"""Live pushes of orders (delivered by notifications when the transaction commits; nothing
is sent if it rolls back). A booked fill's push is pnl's own (pnl/pushes.py)."""

from __future__ import annotations

from notifications.services import PublishBatch, publish
from orders.core.serializers import order_data_current
from orders.models import Order

ORDERS_CHANNEL = "orders"


def order_publish(order: Order, *, batch: PublishBatch | None = None) -> None:
    """`order.updated` with the order as it is now; with `batch`, sent with the batch."""
    (batch.add if batch is not None else publish)(
        channel=ORDERS_CHANNEL,
        event="order.updated",
        data=order_data_current(order),
        account_id=order.account_id,
    )
