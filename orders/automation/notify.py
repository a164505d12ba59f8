"""The automation wing's events in words for the people of the account: a GTT fired or its
order was rejected, a scheduled order ran. Called in the transaction of the change (the
words of order events: orders/notify_events.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from notifications.services import notify_account_members
from orders.automation.serializers import GttSerializer
from orders.core.serializers import order_data
from orders.models import Order
from orders.notify_events import decimal_text, order_summary


def gtt_event_notify(*, gtt: Any, event_type: str, data: Mapping[str, Any]) -> None:
    """A GTT fired (`triggered`) or its order could not be placed (`rejected`)."""
    if event_type not in ("triggered", "rejected"):
        return
    account = gtt.account
    payload = {"gtt": GttSerializer(gtt).data, **{k: v for k, v in data.items() if k != "gtt"}}
    if event_type == "triggered":
        leg = gtt.orders[gtt.triggered_leg or 0] if gtt.orders else {}
        notify_account_members(
            account=account,
            event="gtt.triggered",
            title=f"GTT triggered: {gtt.symbol} at {decimal_text(gtt.triggered_price)}",
            body=(
                f"On {account.name}: placing {leg.get('side', '')} {leg.get('qty', '')} "
                f"{gtt.symbol} ({leg.get('type', '')})."
            ),
            data=payload,
            level="info",
        )
    else:
        notify_account_members(
            account=account,
            event="gtt.rejected",
            title=f"GTT order rejected: {gtt.symbol}",
            body=f"On {account.name}: {data.get('reason') or gtt.reason or 'rejected'}",
            data=payload,
            level="error",
        )


def schedule_ran_notify(*, schedule: Any, order: Order | None, error: str) -> None:
    """A scheduled order ran: the order it placed, or why none."""
    account = schedule.account
    if error:
        title = f"Schedule {schedule.name} ran: no order"
        body = f"On {account.name}: {error}"
        level = "warning"
    else:
        title = f"Schedule {schedule.name} ran: {order_summary(order)}" if order else schedule.name
        body = f"On {account.name}: the order is {order.status}." if order else ""
        level = "info"
    notify_account_members(
        account=account,
        event="schedule.ran",
        title=title,
        body=body,
        data={
            "schedule": str(schedule.pk),
            "name": schedule.name,
            "order": order_data(order) if order is not None else None,
            "error": error or None,
        },
        level=level,
    )
