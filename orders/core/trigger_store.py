"""The trigger store: the active trigger rows of held orders (stop, stop-limit, trailing stop,
a contingent stop-loss leg) kept in step with their orders. The tick side that scans and
fires them is orders.automation.ticks."""

from __future__ import annotations

from decimal import Decimal

from orders.models import (
    Order,
    OrderSide,
    OrderType,
    Trigger,
    TriggerDirection,
    TriggerKind,
    TriggerStatus,
)
from orders.triggers import trailing_stop_price
from orders.triggers.trailing import Side


def trigger_direction(side: str) -> str:
    """A buy stop fires on the way up (last >= stop); a sell stop on the way down."""
    return TriggerDirection.UP if side == OrderSide.BUY else TriggerDirection.DOWN


def trigger_create_for_order(*, order: Order, last: Decimal | None) -> Trigger:
    """The active trigger of a held stop order (inside the placing transaction)."""
    trailing = order.type == OrderType.TRAILING_STOP
    return Trigger.objects.create(
        order=order,
        symbol=order.symbol,
        kind=TriggerKind.TRAILING if trailing else TriggerKind.STOP,
        direction=trigger_direction(order.side),
        price=order.stop_price,
        mark=last if trailing else None,
        trail_price=order.trail_price,
        trail_percent=order.trail_percent,
        tick_size=order.instrument.tick_size,
    )


def triggers_cancel_for_order(*, order: Order) -> int:
    return Trigger.objects.filter(order=order, status=TriggerStatus.ACTIVE).update(
        status=TriggerStatus.CANCELED
    )


def trigger_reprice_for_order(*, order: Order) -> None:
    """After a held order's stop or trail changed: move its active trigger with it.

    A trailing stop gets its stop recomputed from the current mark with the new trail (the
    one case a stop may loosen: an explicit instruction from the trader)."""
    trigger = Trigger.objects.filter(order=order, status=TriggerStatus.ACTIVE).first()
    if trigger is None:
        return
    if trigger.kind == TriggerKind.TRAILING:
        trigger.trail_price = order.trail_price
        trigger.trail_percent = order.trail_percent
        if trigger.mark is not None:
            order.stop_price = trailing_stop_price(
                Side(order.side),
                trigger.mark,
                trigger.tick_size,
                trail_price=order.trail_price,
                trail_percent=order.trail_percent,
            )
    trigger.price = order.stop_price
    trigger.save(update_fields=["price", "trail_price", "trail_percent"])


def crossing_filter(direction: str, last: Decimal) -> dict[str, Decimal]:
    """The condition under which a trigger of `direction` is crossed by `last` (part of the
    compare-and-set: a trigger repriced after the scan does not fire at its old price)."""
    return {"price__lte": last} if direction == TriggerDirection.UP else {"price__gte": last}
