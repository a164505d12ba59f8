"""What an order's change means for the orders (and GTT) linked to it.

`after_change` is the automation wing's change hook (orders/core/hooks.py, registered in
orders/automation/wiring.py): the core's lifecycle calls it for every status change (and
late fill) of an order that takes part in automation, inside the transaction that made
the change, with the order row locked:

* an algo slice's fill is added to its parent at once (same transaction; lock order child
  → account → parent, the parent is never locked while a child is placed), and the parent's
  next step (iceberg: the next child; the end of the algo) is enqueued after commit;
* a contingent order (bracket/oto entry, an OCO member, an exit leg) gets its group
  re-synchronised after commit (legs created / resized / the sibling cancelled:
  orders/automation/contingent.py) — a Celery task, idempotent, safe to run twice;
* a rejected order with a re-entry rule is re-entered after commit (orders/automation/eod.py);
* a rejected order a GTT placed marks that GTT rejected with the reason.

Work that calls a venue never runs inside the caller's transaction: it is enqueued with
`transaction.on_commit`.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from orders.automation.algo_runner import algo_child_filled, enqueue_algo_step
from orders.automation.contingent import enqueue_contingent_sync, legs_cancel_waiting
from orders.automation.eod import enqueue_reentry
from orders.automation.gtt_fire import gtt_order_rejected
from orders.models import (
    TERMINAL_STATUSES,
    LegRole,
    Order,
    OrderEventType,
    OrderStatus,
)

logger = logging.getLogger(__name__)

_FILL_EVENTS = frozenset(
    {OrderEventType.FILL, OrderEventType.PARTIAL_FILL, OrderEventType.LATE_FILL}
)


def _fill_of(event_type: str, data: dict[str, Any]) -> tuple[Decimal, Decimal] | None:
    if event_type not in _FILL_EVENTS:
        return None
    qty, price = data.get("fill_qty"), data.get("fill_price")
    if qty is None or price is None:
        return None
    qty, price = Decimal(str(qty)), Decimal(str(price))
    return (qty, price) if qty > 0 else None


def after_change(*, order: Order, from_status: str, event_type: str, data: dict[str, Any]) -> None:
    fill = _fill_of(event_type, data)
    if order.leg_role == LegRole.SLICE and order.parent_id:
        if fill is not None:
            algo_child_filled(child=order, qty=fill[0], price=fill[1])
        if fill is not None or order.status in TERMINAL_STATUSES:
            enqueue_algo_step(order.parent_id)
    if (
        order.leg_spec is not None
        and order.order_class in ("bracket", "oto")
        and order.status in TERMINAL_STATUSES
        and order.filled_qty <= 0
    ):
        # The entry ended unfilled: its waiting legs go with it, in this transaction.
        legs_cancel_waiting(entry=order, reason=f"parent_{order.status}")
    if order.leg_spec is not None or order.oco_group is not None:
        root = (
            order.parent_id if order.leg_role in (LegRole.TAKE_PROFIT, LegRole.STOP_LOSS) else None
        )
        enqueue_contingent_sync(root or order.pk)
    if order.status == OrderStatus.REJECTED and from_status != OrderStatus.REJECTED:
        if order.reentry_max and order.reentry_attempt < order.reentry_max:
            enqueue_reentry(order.pk)
        if order.gtt_id:
            gtt_order_rejected(gtt_id=order.gtt_id, order=order)
