"""Order events in words for the people of the account (notifications.notify_account_members):
filled, partially filled (one message per order with the running total), rejected (why),
canceled by the system (not by the user's own cancel), expired, stop triggered, algo
finished, risk limit hit. Registered on the lifecycle (orders/apps.py), so each notification
is stored in the transaction of the transition that causes it. GTT and schedule events are
told by the automation wing (orders/automation/notify.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from notifications.services import notify_account_members
from oms_site.api import format_decimal
from orders.core.lifecycle import Actor
from orders.core.reasons import cancel_reason_text
from orders.core.serializers import order_data_current
from orders.market_maker import TAG_PREFIX as MARKET_MAKER_TAG
from orders.models import LegRole, Order, OrderEventType, OrderStatus

# Cancels nobody needs telling about: the user's own (they just did it) and the
# machinery's re-quoting/re-slicing.
QUIET_CANCEL_REASONS = frozenset({"user", "market_maker", "algo_reslice", "algo_paused"})
# Pre-trade checks that are limits someone set (risk.limit_hit), not a bad order.
RISK_LIMIT_CODES = frozenset(
    {
        "kill_switch",
        "symbol_not_allowed",
        "max_order_qty",
        "max_order_value",
        "price_band",
        "rate_limit",
        "max_orders_per_day",
        "max_open_orders",
        "short_selling",
        "buying_power",
        "max_daily_loss",
    }
)


def decimal_text(value: Any) -> str:
    return "—" if value is None else format_decimal(value)


def order_summary(order: Order) -> str:
    """e.g. "Buy 100 ACME limit 10.5"."""
    price = f" limit {decimal_text(order.limit_price)}" if order.limit_price is not None else ""
    return f"{order.side.capitalize()} {decimal_text(order.qty)} {order.symbol}{price}"


def _data(order: Order, **extra: Any) -> dict[str, Any]:
    return {"order": order_data_current(order), **extra}


def _notify(order: Order, event: str, title: str, body: str, level: str, **kw: Any) -> None:
    notify_account_members(
        account=order.account,
        event=event,
        title=title,
        body=body,
        data=kw.pop("data", None) or _data(order),
        level=level,
        coalesce=kw.pop("coalesce", ""),
    )


def order_transition_notify(
    *,
    order: Order,
    from_status: str,
    event_type: str,
    actor: Actor,
    data: Mapping[str, Any],
) -> None:
    if order.leg_role == LegRole.SLICE:
        return  # an algo's child orders: the parent tells the story (algo.finished)
    if order.tag.startswith(MARKET_MAKER_TAG):
        return  # the demo market maker's quotes: thousands a day, for nobody to read
    _status_notify(order, event_type=event_type, actor=actor, data=data)
    if event_type == OrderEventType.TRIGGERED:
        _notify(
            order,
            "trigger.fired",
            f"Stop triggered: {order_summary(order)}",
            f"The last price {decimal_text(data.get('last'))} crossed the stop "
            f"{decimal_text(data.get('stop_price'))} on {order.account.name}; "
            "the order is on its way.",
            "info",
            data=_data(order, last=data.get("last"), stop_price=data.get("stop_price")),
        )
    if order.algo and from_status != order.status and order.status in _ALGO_ENDS:
        algo_type = str(order.algo.get("type", "algo")).upper()
        _notify(
            order,
            "algo.finished",
            f"{algo_type} finished: {order_summary(order)}",
            f"{decimal_text(order.filled_qty)} of {decimal_text(order.qty)} filled at an "
            f"average of {decimal_text(order.avg_fill_price)} on {order.account.name} "
            f"({order.status}).",
            "info",
        )


_ALGO_ENDS = (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED)


def _status_notify(order: Order, *, event_type: str, actor: Actor, data: Mapping[str, Any]) -> None:
    """The order's new status in words (filled, partly filled, rejected, canceled by
    someone else, expired)."""
    status = order.status
    account_name = order.account.name
    if status == OrderStatus.FILLED:
        _notify(
            order,
            "order.filled",
            f"Filled: {order_summary(order)}",
            f"{decimal_text(order.filled_qty)} {order.symbol} at an average of "
            f"{decimal_text(order.avg_fill_price)} on {account_name}.",
            "success",
        )
    elif status == OrderStatus.PARTIALLY_FILLED and event_type == OrderEventType.PARTIAL_FILL:
        _notify(
            order,
            "order.partially_filled",
            f"Partly filled: {decimal_text(order.filled_qty)} of {decimal_text(order.qty)} "
            f"{order.symbol}",
            f"{order_summary(order)} on {account_name}: {decimal_text(order.filled_qty)} "
            f"filled so far at an average of {decimal_text(order.avg_fill_price)}; "
            f"{decimal_text(order.qty - order.filled_qty)} working.",
            "info",
            coalesce=f"order:{order.pk}",
        )
    elif status == OrderStatus.REJECTED:
        _rejected(order, data)
    elif status == OrderStatus.CANCELED and _system_cancel(order, actor):
        reason = cancel_reason_text(order.cancel_reason) or "canceled by the venue"
        _notify(
            order,
            "order.canceled",
            f"Canceled: {order_summary(order)}",
            f"On {account_name}, {reason}; {decimal_text(order.filled_qty)} of "
            f"{decimal_text(order.qty)} filled.",
            "warning",
        )
    elif status == OrderStatus.EXPIRED:
        _notify(
            order,
            "order.expired",
            f"Expired: {order_summary(order)}",
            f"On {account_name}, it was good until {order.good_till or 'the close'}; "
            f"{decimal_text(order.filled_qty)} of {decimal_text(order.qty)} filled.",
            "info",
        )


def _system_cancel(order: Order, actor: Actor) -> bool:
    """Not the user's own cancel: the venue's, an expiry, OCO, the back office, square-off."""
    reason = order.cancel_reason
    if reason in QUIET_CANCEL_REASONS:
        return False
    return bool(reason) or actor.type == "system"


def _rejected(order: Order, data: Mapping[str, Any]) -> None:
    reason = order.reject_reason or str(data.get("reason") or "") or "no reason given"
    code, _, words = reason.partition(": ")
    words = words or reason
    _notify(
        order,
        "order.rejected",
        f"Rejected: {order_summary(order)}",
        f"On {order.account.name}: {words}",
        "error",
    )
    if code in RISK_LIMIT_CODES:
        # One unread message per account and limit, however many orders hit it.
        _notify(
            order,
            "risk.limit_hit",
            f"Risk limit hit on {order.account.name}: {code.replace('_', ' ')}",
            words,
            "warning",
            coalesce=f"risk:{order.account_id}:{code}",
            data=_data(order, limit=code, message=words),
        )
