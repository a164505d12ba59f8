"""The tick side of the triggers: held orders (stop, stop-limit, trailing stop, the
stop-loss leg of a bracket / OCO) and GTTs, released by ticks. The trigger rows are kept
in step with their orders by the core's store (orders/core/trigger_store.py).

Correctness across processes first: ticks arrive in the feed / exchange worker processes
while orders and GTTs are created in web processes, so the database is the index (no
per-process copy that could miss a trigger another process just created). A tick costs
one round trip: a UNION of four range scans of two composite indexes —
(symbol, status, direction, price) for crossings and (symbol, status, kind, direction,
mark) for trailing marks to move — O(log n + hits), never a scan of all triggers.

Each crossed trigger fires exactly once: its owner row is locked (the order, or the GTT),
then `UPDATE trigger SET status='fired' WHERE id=… AND status='active' AND price <crosses>`
must change one row, and the release (or the GTT's order placement) happens in that same
transaction — a crash rolls both back and the trigger fires on the next crossing tick;
a second process or a duplicated tick finds it fired and does nothing.

Trailing stops move their marks (high-water for a sell, low-water for a buy) with a
compare-and-set on the mark, tightening the stop with the pure
`orders.triggers.trailing_stop_price` (never loosening); a moved stop is written to the
order with a `stop_moved` event.

Lock order everywhere: order (or GTT) row → trigger row → account row.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from marketdata.listeners import AppliedTick
from oms_site.locks import lock_one_or_none
from orders.automation.gtt_fire import gtt_fire
from orders.core.lifecycle import Actor, actor_system, order_record_event
from orders.core.publish import order_publish
from orders.core.release import order_release
from orders.core.trigger_store import crossing_filter
from orders.models import (
    Order,
    OrderEventType,
    OrderStatus,
    Trigger,
    TriggerDirection,
    TriggerKind,
    TriggerStatus,
)
from orders.triggers import trailing_stop_price
from orders.triggers.trailing import Side

logger = logging.getLogger(__name__)

TRIGGER_ACTOR = actor_system("trigger")


# --- ticks ------------------------------------------------------------------------------------

_CROSSED_UP, _CROSSED_DOWN, _MARK_DOWN, _MARK_UP = 0, 1, 2, 3


def _scan_sql() -> str:
    qn = connection.ops.quote_name
    table = qn(Trigger._meta.db_table)
    cols = f"{qn('id')}, %s, {qn('price')}, {qn('gtt_id')}, {qn('order_id')}"
    # Only quoted identifiers of this model are interpolated; every value is a parameter.
    base = f"SELECT {cols} FROM {table} WHERE {qn('symbol')} = %s AND {qn('status')} = %s"  # noqa: S608
    return " UNION ALL ".join(
        [
            f"{base} AND {qn('direction')} = %s AND {qn('price')} <= %s",
            f"{base} AND {qn('direction')} = %s AND {qn('price')} >= %s",
            f"{base} AND {qn('kind')} = %s AND {qn('direction')} = %s AND {qn('mark')} < %s",
            f"{base} AND {qn('kind')} = %s AND {qn('direction')} = %s AND {qn('mark')} > %s",
        ]
    )


_SQL_CACHE: dict[str, str] = {}


def trigger_scan(*, symbol: str, last: Decimal) -> tuple[list[tuple], list[int]]:
    """One round trip: (crossed triggers as (id, is_gtt, order_id, direction) in the order
    the market reaches them, trailing stops whose mark `last` moves)."""
    sql = _SQL_CACHE.get(connection.vendor)
    if sql is None:
        sql = _SQL_CACHE[connection.vendor] = _scan_sql()
    active = TriggerStatus.ACTIVE
    trailing = TriggerKind.TRAILING
    params = [
        _CROSSED_UP, symbol, active, TriggerDirection.UP, last,
        _CROSSED_DOWN, symbol, active, TriggerDirection.DOWN, last,
        _MARK_DOWN, symbol, active, trailing, TriggerDirection.DOWN, last,
        _MARK_UP, symbol, active, trailing, TriggerDirection.UP, last,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    up, down, marks = [], [], []
    for trigger_id, tag, price, gtt_id, order_id in rows:
        if tag == _CROSSED_UP:
            up.append((Decimal(str(price)), trigger_id, gtt_id is not None, order_id))
        elif tag == _CROSSED_DOWN:
            down.append((-Decimal(str(price)), trigger_id, gtt_id is not None, order_id))
        else:
            marks.append(trigger_id)
    up.sort(key=lambda row: row[:2])
    down.sort(key=lambda row: row[:2])
    crossed = [(tid, is_gtt, oid, TriggerDirection.UP) for _, tid, is_gtt, oid in up] + [
        (tid, is_gtt, oid, TriggerDirection.DOWN) for _, tid, is_gtt, oid in down
    ]
    return crossed, marks


def triggers_on_tick(tick: AppliedTick) -> list[str]:
    """The tick listener (registered in orders/automation/wiring.py). Returns the ids of the orders
    it released or placed (GTTs)."""
    last = tick.last
    if last is None:
        return []
    crossed, marks = trigger_scan(symbol=tick.symbol, last=last)
    for trigger_id in marks:
        try:
            trailing_mark_move(trigger_id=trigger_id, last=last)
        except Exception:
            logger.exception(
                "Trailing stop %s failed to move on %s @ %s", trigger_id, tick.symbol, last
            )
    released: list[str] = []
    for trigger_id, is_gtt, order_id, direction in crossed:
        try:
            if is_gtt:
                released.extend(gtt_fire(trigger_id=trigger_id, last=last))
                continue
            order_id = trigger_fire(trigger_id=trigger_id, last=last, known=(order_id, direction))
        except Exception:
            logger.exception("Trigger %s failed to fire on %s @ %s", trigger_id, tick.symbol, last)
            continue
        if order_id is not None:
            released.append(order_id)
    return released


def crossed_trigger_ids(*, symbol: str, last: Decimal) -> list[int]:
    """Active triggers of `symbol` that `last` crosses, in the order the market reaches
    them (up: lowest price first; then down: highest first)."""
    crossed, _marks = trigger_scan(symbol=symbol, last=last)
    return [row[0] for row in crossed]


def trigger_fire(
    *,
    trigger_id: int,
    last: Decimal,
    actor: Actor = TRIGGER_ACTOR,
    known: tuple[object, str] | None = None,
) -> str | None:
    """Fire one order trigger exactly once and release its order. Returns the order id when
    this call fired it, None when it was already fired/canceled (another process won) or
    is no longer crossed. `known`: (order id, direction) as the scan read them (saves a
    read; the compare-and-set below decides anyway)."""
    row = known
    if row is None:
        row = Trigger.objects.filter(pk=trigger_id).values_list("order_id", "direction").first()
    if row is None or row[0] is None:
        return None
    order_id, direction = row
    with transaction.atomic():
        order = lock_one_or_none(Order.objects, pk=order_id)
        if order is None:
            return None
        now = timezone.now()
        won = Trigger.objects.filter(
            pk=trigger_id, status=TriggerStatus.ACTIVE, **crossing_filter(direction, last)
        ).update(status=TriggerStatus.FIRED, fired_at=now, fired_price=last)
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
            locked=order,
        )
        return str(order.pk)


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
    order = lock_one_or_none(Order.objects, pk=order_id)
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
        order_publish(order)
    return True
