"""Live pushes of orders and fills (delivered by notifications when the transaction
commits; nothing is sent if it rolls back)."""

from __future__ import annotations

from functools import cache

from notifications.services import PublishBatch, publish
from orders.core.serializers import order_data
from orders.models import Order
from pnl.models import Fill
from pnl.serializers import FillSerializer

ORDERS_CHANNEL = "orders"
FILLS_CHANNEL = "fills"


@cache
def _fill_serializer() -> FillSerializer:
    # One unbound instance per process (see orders.core.serializers.order_data): building a
    # serializer's fields costs more than the representation; to_representation only reads.
    return FillSerializer()


def order_publish(order: Order, *, batch: PublishBatch | None = None) -> None:
    """`order.updated` with the order as it is now; with `batch`, sent with the batch."""
    (batch.add if batch is not None else publish)(
        channel=ORDERS_CHANNEL,
        event="order.updated",
        data=order_data(order),
        account_id=order.account_id,
    )


def fill_publish(fill: Fill, *, batch: PublishBatch | None = None) -> None:
    (batch.add if batch is not None else publish)(
        channel=FILLS_CHANNEL,
        event="fill.created",
        data=_fill_serializer().to_representation(fill),
        account_id=fill.account_id,
    )
