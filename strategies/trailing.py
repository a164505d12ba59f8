"""The default trailing stop of a strategy (`defaults.trailing`): once an order that opened
or added to a position has filled, a trailing stop for its quantity is placed through the
normal order service (unless the order carries a stop-loss leg already).

Wired by StrategiesConfig.ready() as an orders transition listener; the listener only
enqueues (after the fill's commit) for the strategy's own opening orders, recognised by
their client_order_id (other orders' fills cost a string comparison), when the strategy has
a trailing default (one read of the order's link).
"""

from __future__ import annotations

import logging
from typing import Any

from oms_site.errors import ApplicationError, RiskRejected
from oms_site.task_enqueue import enqueue_after_commit, task_named
from orders import services as order_services
from orders.core.lifecycle import Actor
from orders.models import Order, OrderStatus
from strategies.defaults import defaults_parse
from strategies.fanout import CLIENT_ORDER_ID_PREFIX
from strategies.models import StrategyOrder

logger = logging.getLogger(__name__)

TRAIL_SUFFIX = "-trail"


def on_order_transition(*, order: Order, **_: Any) -> None:
    """Orders transition listener: a strategy's order just filled → its trailing stop."""
    if order.status != OrderStatus.FILLED:
        return
    if not (order.client_order_id or "").startswith(CLIENT_ORDER_ID_PREFIX):
        return
    if order.client_order_id.endswith(TRAIL_SUFFIX) or (order.leg_spec or {}).get("stop_loss"):
        return
    # Only when the strategy has a trailing default: one indexed read here instead of a task
    # (and its queue slot) for every filled order of every strategy.
    defaults = (
        StrategyOrder.objects.filter(order_id=order.pk, opening=True)
        .values_list("strategy__defaults", flat=True)
        .first()
    )
    if defaults is None or defaults_parse(defaults).trailing is None:
        return
    trailing_stop_place_task = task_named("strategies.trailing_stop_place")
    order_id = str(order.pk)
    enqueue_after_commit(
        lambda: trailing_stop_place_task.delay(order_id),
        what=f"the trailing stop of order {order_id}",
        recovery="none: place it by hand",
    )


def trailing_stop_place(*, order_id: object) -> Order | None:
    """Place the trailing stop protecting a filled opening order of a strategy (once: its
    client_order_id is the entry's plus "-trail")."""
    link = (
        StrategyOrder.objects.select_related("strategy__owner", "order", "signal")
        .filter(order_id=order_id, opening=True)
        .first()
    )
    if link is None:
        return None
    defaults = defaults_parse(link.strategy.defaults)
    entry = link.order
    if defaults.trailing is None or (entry.leg_spec or {}).get("stop_loss"):
        return None
    owner = link.strategy.owner
    client_order_id = f"{entry.client_order_id}{TRAIL_SUFFIX}"
    trail = {defaults.trailing.kind: defaults.trailing.amount}
    try:
        result = order_services.order_place(
            user=owner,
            actor=Actor(type="user", id=str(owner.pk), name=f"{owner.username} (strategy)"),
            account_id=entry.account_id,
            symbol=entry.symbol,
            side="sell" if entry.side == "buy" else "buy",
            order_type="trailing_stop",
            qty=entry.filled_qty,
            time_in_force="gtc",
            client_order_id=client_order_id,
            tag=entry.tag,
            product=entry.product,
            **trail,
        )
        order = result.order
    except RiskRejected as exc:
        order = Order.objects.filter(pk=exc.extra.get("order_id")).first()
        logger.warning("trailing stop of order %s refused: %s", entry.pk, exc.message)
    except ApplicationError as exc:
        logger.warning("trailing stop of order %s not placed: %s", entry.pk, exc.message)
        return None
    if order is not None:
        StrategyOrder.objects.get_or_create(
            order=order,
            defaults={
                "strategy": link.strategy,
                "signal": link.signal,
                "account_id": entry.account_id,
                "symbol": entry.symbol,
            },
        )
    return order
