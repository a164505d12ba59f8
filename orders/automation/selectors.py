"""Reads of the automation wing: GTTs, scheduled orders, an algo parent's progress."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from accounts.models import User
from accounts.selectors import account_get_for_user, account_list_for_user
from oms_site.api import format_decimal
from oms_site.errors import NotFound, ValidationFailed
from orders.automation.algo_schedule import algo_ends_at
from orders.core.selectors import parse_uuid
from orders.models import (
    OPEN_STATUSES,
    AlgoState,
    Gtt,
    GttEvent,
    GttStatus,
    LegRole,
    Order,
    ScheduledOrder,
)

ZERO = Decimal("0")


# --- GTT ----------------------------------------------------------------------------------------


def gtt_get_for_user(*, user: User, gtt_id: object, level: str = "view") -> Gtt:
    """The GTT if `user` may see its account (404 otherwise); level="trade" → 403 for a
    view-only member."""
    pk = parse_uuid(gtt_id)
    gtt = None if pk is None else Gtt.objects.select_related("instrument").filter(pk=pk).first()
    if gtt is None:
        raise NotFound("GTT not found.")
    try:
        account_get_for_user(user=user, account_id=gtt.account_id, level=level)
    except NotFound as exc:
        raise NotFound("GTT not found.") from exc
    return gtt


def gtt_list(*, user: User, filters: dict[str, Any] | None = None) -> QuerySet[Gtt]:
    """GTTs of the accounts `user` may see, newest first; filters: account, symbol,
    status (a GTT status, or `open` = active)."""
    filters = filters or {}
    qs = Gtt.objects.all()
    if not user.is_oms_admin:
        qs = qs.filter(account__in=account_list_for_user(user=user).values("id"))
    if filters.get("account"):
        pk = parse_uuid(filters["account"])
        if pk is None:
            raise ValidationFailed(
                "account: not a valid id.", fields={"account": ["Not a valid id."]}
            )
        qs = qs.filter(account_id=pk)
    if filters.get("symbol"):
        qs = qs.filter(symbol=str(filters["symbol"]).upper())
    status = filters.get("status")
    if status == "open":
        qs = qs.filter(status=GttStatus.ACTIVE)
    elif status and status != "all":
        if status not in GttStatus.values:
            raise ValidationFailed(
                f"status: unknown status {status!r}.",
                fields={"status": ["Use open, all or a GTT status."]},
            )
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def gtt_events(*, gtt: Gtt) -> QuerySet[GttEvent]:
    return GttEvent.objects.filter(gtt=gtt).order_by("seq")


# --- scheduled orders ---------------------------------------------------------------------------


def scheduled_order_list(
    *, user: User, filters: dict[str, Any] | None = None
) -> QuerySet[ScheduledOrder]:
    filters = filters or {}
    qs = ScheduledOrder.objects.select_related("account", "last_order")
    if not user.is_oms_admin:
        qs = qs.filter(account__in=account_list_for_user(user=user).values("id"))
    if filters.get("account"):
        pk = parse_uuid(filters["account"])
        if pk is None:
            raise ValidationFailed(
                "account: not a valid id.", fields={"account": ["Not a valid id."]}
            )
        qs = qs.filter(account_id=pk)
    return qs.order_by("-created_at", "-id")


def scheduled_order_get_for_user(
    *, user: User, schedule_id: object, level: str = "view"
) -> ScheduledOrder:
    pk = parse_uuid(schedule_id)
    row = None if pk is None else ScheduledOrder.objects.filter(pk=pk).first()
    if row is None:
        raise NotFound("Schedule not found.")
    try:
        account_get_for_user(user=user, account_id=row.account_id, level=level)
    except NotFound as exc:
        raise NotFound("Schedule not found.") from exc
    return row


# --- progress (read side) ------------------------------------------------------------------


def order_algo_progress(order: Order) -> dict[str, Any] | None:
    """What the API shows of an algo parent: parameters, state, filled / scheduled /
    remaining. scheduled = what its children have filled or still work."""
    if not order.algo:
        return None
    algo = order.algo
    children = list(
        Order.objects.filter(parent=order, leg_role=LegRole.SLICE).values_list(
            "qty", "filled_qty", "status"
        )
    )
    working = sum((q - f for q, f, st in children if st in OPEN_STATUSES), ZERO)
    scheduled = order.filled_qty + working
    out = {
        key: algo.get(key)
        for key in (
            "type",
            "horizon_secs",
            "interval_secs",
            "limit_price",
            "display_qty",
            "randomize_pct",
            "slices_total",
        )
        if key in algo
    }
    ends = algo_ends_at(algo)
    out.update(
        {
            "state": order.algo_state,
            "slices_sent": algo.get("sent", 0),
            "children": len(children),
            "filled_qty": format_decimal(order.filled_qty),
            "scheduled_qty": format_decimal(scheduled),
            "working_qty": format_decimal(working),
            "remaining_qty": format_decimal(max(order.qty - order.filled_qty, ZERO)),
            "started_at": algo.get("starts_at"),
            "ends_at": None if ends is None else ends.isoformat(),
            "next_slice_at": None
            if order.algo_next_at is None or order.algo_state != AlgoState.RUNNING
            else order.algo_next_at.isoformat(),
            "reason": algo.get("reason"),
        }
    )
    return out
