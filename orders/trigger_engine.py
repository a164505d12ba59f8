"""The trigger engine: held stop / stop-limit / trailing-stop orders released by ticks.

Correctness across processes first: ticks arrive in the feed (or marketdata worker)
process while orders are created in web processes, so the database is the index. A tick
finds the crossed triggers of its symbol with two indexed range queries on
(symbol, status, direction, price) — never a scan of all triggers — and each fires
exactly once: the order row is locked, then `UPDATE trigger SET status='fired' WHERE
id=… AND status='active'` must change one row, and the release happens in that same
transaction (a crash rolls both back; the trigger fires on the next crossing tick).

Trailing stops first move their marks (the high-water mark of a sell, the low-water mark
of a buy, found by an indexed range on `mark`), tightening the stop with the pure
`orders.triggers.trailing_stop_price`; then the crossing check runs on the new stops.

Lock order everywhere: order row → trigger row → account row.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from marketdata.listeners import AppliedTick
from orders.lifecycle import Actor, actor_system, order_record_event
from orders.models import (
    Order,
    OrderEventType,
    OrderSide,
    OrderStatus,
    OrderType,
    Trigger,
    TriggerDirection,
    TriggerKind,
    TriggerStatus,
)
from orders.triggers import trailing_stop_price
from orders.triggers.trailing import Side

logger = logging.getLogger(__name__)

TRIGGER_ACTOR = actor_system("trigger")


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


# --- ticks ------------------------------------------------------------------------------------


def triggers_on_tick(tick: AppliedTick) -> list[str]:
    """The tick listener (registered in OrdersConfig.ready()). Returns released order ids."""
    last = tick.last
    if last is None:
        return []
    _move_trailing_marks(tick.symbol, last)
    released: list[str] = []
    for trigger_id in crossed_trigger_ids(symbol=tick.symbol, last=last):
        try:
            order_id = trigger_fire(trigger_id=trigger_id, last=last)
        except Exception:
            logger.exception("Trigger %s failed to fire on %s @ %s", trigger_id, tick.symbol, last)
            continue
        if order_id is not None:
            released.append(order_id)
    return released


def crossed_trigger_ids(*, symbol: str, last: Decimal) -> list[int]:
    """Active triggers of `symbol` that `last` crosses, in the order the market reaches
    them: two range scans of the (symbol, status, direction, price) index."""
    base = Trigger.objects.filter(symbol=symbol, status=TriggerStatus.ACTIVE)
    up = base.filter(direction=TriggerDirection.UP, price__lte=last).order_by(
        "price", "created_at", "id"
    )
    down = base.filter(direction=TriggerDirection.DOWN, price__gte=last).order_by(
        "-price", "created_at", "id"
    )
    return list(up.values_list("id", flat=True)) + list(down.values_list("id", flat=True))


def trigger_fire(*, trigger_id: int, last: Decimal, actor: Actor = TRIGGER_ACTOR) -> str | None:
    """Fire one trigger exactly once and release its order. Returns the order id when this
    call fired it, None when it was already fired/canceled (another process won)."""
    from orders.services_release import order_release

    order_id = Trigger.objects.filter(pk=trigger_id).values_list("order_id", flat=True).first()
    if order_id is None:
        return None
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            return None
        now = timezone.now()
        won = Trigger.objects.filter(pk=trigger_id, status=TriggerStatus.ACTIVE).update(
            status=TriggerStatus.FIRED, fired_at=now, fired_price=last
        )
        if won != 1:
            return None
        if order.status != OrderStatus.HELD:
            # The order left `held` without canceling its trigger: nothing to release.
            logger.warning(
                "Trigger %s fired for order %s in %s", trigger_id, order.pk, order.status
            )
            return None
        order_release(
            order_id=order.pk,
            actor=actor,
            event_type=OrderEventType.TRIGGERED,
            data={"trigger_id": trigger_id, "last": last, "stop_price": order.stop_price},
        )
        return str(order.pk)


def _move_trailing_marks(symbol: str, last: Decimal) -> None:
    base = Trigger.objects.filter(
        symbol=symbol, status=TriggerStatus.ACTIVE, kind=TriggerKind.TRAILING
    )
    # A sell trails below its high-water mark, a buy above its low-water mark.
    raised = base.filter(direction=TriggerDirection.DOWN, mark__lt=last)
    lowered = base.filter(direction=TriggerDirection.UP, mark__gt=last)
    for trigger_id in list(raised.values_list("id", flat=True)) + list(
        lowered.values_list("id", flat=True)
    ):
        try:
            trailing_mark_move(trigger_id=trigger_id, last=last)
        except Exception:
            logger.exception("Trailing stop %s failed to move on %s @ %s", trigger_id, symbol, last)


@transaction.atomic
def trailing_mark_move(*, trigger_id: int, last: Decimal) -> bool:
    """Give a trailing stop the new mark `last` and tighten its stop (never loosen).

    Compare-and-set on the mark, so two processes seeing ticks out of order can only move
    it in the trader's favour. A changed stop is written to the order with a `stop_moved`
    event. Returns True if the mark moved.
    """
    order_id = Trigger.objects.filter(pk=trigger_id).values_list("order_id", flat=True).first()
    if order_id is None:
        return False
    order = Order.objects.select_for_update().filter(pk=order_id).first()
    trigger = Trigger.objects.filter(pk=trigger_id, status=TriggerStatus.ACTIVE).first()
    if order is None or trigger is None or order.status != OrderStatus.HELD:
        return False
    selling = trigger.direction == TriggerDirection.DOWN
    if trigger.mark is not None and (last <= trigger.mark if selling else last >= trigger.mark):
        return False
    computed = trailing_stop_price(
        Side.SELL if selling else Side.BUY,
        last,
        trigger.tick_size,
        trail_price=trigger.trail_price,
        trail_percent=trigger.trail_percent,
    )
    new_stop = max(trigger.price, computed) if selling else min(trigger.price, computed)
    mark_filter = {"mark__lt": last} if selling else {"mark__gt": last}
    moved = Trigger.objects.filter(
        pk=trigger_id, status=TriggerStatus.ACTIVE, **mark_filter
    ).update(mark=last, price=new_stop)
    if not moved:
        return False
    if new_stop != order.stop_price:
        old = order.stop_price
        order.stop_price = new_stop
        order_record_event(
            order=order,
            event_type=OrderEventType.STOP_MOVED,
            actor=TRIGGER_ACTOR,
            data={"stop_price": new_stop, "previous": old, "mark": last},
            update_fields=["stop_price"],
        )
        from orders.publish import order_publish

        order_publish(order)
    return True
