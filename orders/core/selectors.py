"""Reads of orders: the blotter, one order for a user, aggregates for pre-trade risk."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from django.db.models import DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import TradingAccount, User
from accounts.selectors import account_get_for_user, account_list_for_user
from execution.broker_sync import OurOrder
from oms_site.compiled_query import CompiledSelect
from oms_site.errors import NotFound, ValidationFailed
from orders.models import (
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    HoldReason,
    LegRole,
    Order,
    OrderEvent,
    OrderSide,
    OrderStatus,
)

ZERO = Decimal("0")


def parse_uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def order_visible_qs(*, user: User) -> QuerySet[Order]:
    qs = Order.objects.all()
    if not user.is_oms_admin:
        qs = qs.filter(account__in=account_list_for_user(user=user).values("id"))
    return qs


def order_get_for_user(*, user: User, order_id: object, level: str = "view") -> Order:
    """The order if `user` may see it (404 otherwise, never leaking existence); with
    level="trade", a view-only member gets 403."""
    pk = parse_uuid(order_id)
    if pk is None:
        raise NotFound("Order not found.")
    order = Order.objects.select_related("account", "instrument").filter(pk=pk).first()
    if order is None:
        raise NotFound("Order not found.")
    try:
        account_get_for_user(user=user, account_id=order.account_id, level=level)
    except NotFound as exc:
        raise NotFound("Order not found.") from exc
    return order


STATUS_GROUPS = {
    "open": OPEN_STATUSES,
    "closed": TERMINAL_STATUSES,
}


def order_list(*, user: User, filters: dict[str, Any] | None = None) -> QuerySet[Order]:
    """The blotter: orders of the accounts `user` may see, newest first.

    filters: account, symbol, status (open|closed|all|<status>), side, after, until
    (created_at bounds, datetimes), parent (an order id: its legs / algo children),
    top_level (truthy: only orders without a parent). Unknown enum values → 400 naming
    the field.
    """
    filters = filters or {}
    qs = order_visible_qs(user=user).select_related("account")
    account = filters.get("account")
    if account:
        pk = parse_uuid(account)
        if pk is None:
            raise ValidationFailed(
                "account: not a valid id.", fields={"account": ["Not a valid id."]}
            )
        qs = qs.filter(account_id=pk)
    if filters.get("symbol"):
        qs = qs.filter(symbol=str(filters["symbol"]).upper())
    parent = filters.get("parent")
    if parent:
        parent_pk = parse_uuid(parent)
        if parent_pk is None:
            raise ValidationFailed(
                "parent: not a valid id.", fields={"parent": ["Not a valid id."]}
            )
        qs = qs.filter(parent_id=parent_pk)
    elif filters.get("top_level"):
        qs = qs.filter(parent__isnull=True)
    status = filters.get("status") or "all"
    if status in STATUS_GROUPS:
        qs = qs.filter(status__in=STATUS_GROUPS[status])
    elif status != "all":
        if status not in OrderStatus.values:
            raise ValidationFailed(
                f"status: unknown status {status!r}.",
                fields={"status": ["Use open, closed, all or an order status."]},
            )
        qs = qs.filter(status=status)
    side = filters.get("side")
    if side:
        if side not in OrderSide.values:
            raise ValidationFailed("side: use buy or sell.", fields={"side": ["Use buy or sell."]})
        qs = qs.filter(side=side)
    if filters.get("after"):
        qs = qs.filter(created_at__gte=filters["after"])
    if filters.get("until"):
        qs = qs.filter(created_at__lte=filters["until"])
    return qs.order_by("-created_at", "-id")


def order_events(*, order: Order) -> QuerySet[OrderEvent]:
    return OrderEvent.objects.filter(order=order).order_by("seq")


LEG_ROLES = (LegRole.TAKE_PROFIT, LegRole.STOP_LOSS)


def order_legs(*, order: Order) -> list[Order]:
    """A contingent order's exit legs (take-profit / stop-loss), oldest first."""
    if order.order_class == "simple":
        return []
    return list(
        Order.objects.filter(parent=order, leg_role__in=LEG_ROLES).order_by("created_at", "id")
    )


def order_children(*, order: Order) -> QuerySet[Order]:
    """An algo parent's child orders (slices), oldest first."""
    return Order.objects.filter(parent=order, leg_role=LegRole.SLICE).order_by("created_at", "id")


# --- aggregates for pre-trade risk ----------------------------------------------------------

_REMAINING_VALUE = ExpressionWrapper(
    (F("qty") - F("filled_qty")) * Coalesce(F("est_price"), Value(ZERO)),
    output_field=DecimalField(max_digits=38, decimal_places=8),
)

# Orders whose quantity another open order already stands for: an algo's child slices
# (the parent commits the whole quantity), the held member of an OCO pair (its live
# sibling covers the same quantity; only one of the two can ever execute) and exit legs
# still waiting for their entry to fill.
_COVERED = (
    Q(leg_role=LegRole.SLICE)
    | Q(oco_group__isnull=False, status=OrderStatus.HELD)
    | Q(status=OrderStatus.HELD, hold_reason=HoldReason.PARENT)
)


def _excluding(qs: QuerySet[Order], exclude_order_id: object) -> QuerySet[Order]:
    """exclude_order_id: None, one id, or a collection of ids."""
    if exclude_order_id is None:
        return qs
    if isinstance(exclude_order_id, list | tuple | set | frozenset):
        ids = [pk for pk in exclude_order_id if pk is not None]
        return qs.exclude(pk__in=ids) if ids else qs
    return qs.exclude(pk=exclude_order_id)


@cache
def _committing_buys() -> QuerySet[Order]:
    """Open buy orders not covered by another one, of every account. Built once and only
    ever filtered further (which copies it): its filter is the same for every order placed,
    and building it cost a third of the buying-power query."""
    return Order.objects.filter(side=OrderSide.BUY, status__in=OPEN_STATUSES).exclude(_COVERED)


def open_buy_commitment(
    account: TradingAccount, *, exclude_order_id: object | None = None
) -> Decimal:
    """What the account's open buy orders still commit: Σ leaves qty × valuation price.

    Registered as the buying-power commitment provider (accounts.registry) by
    OrdersConfig.ready(), so `account_buying_power` = cash − this. Algo slices and the
    held member of an OCO pair are covered by another open order and not counted twice.
    """
    if exclude_order_id is None:  # every order placed asks this: compiled once
        rows = _BUY_COMMITMENT.rows(account_id=account.pk)
        return Decimal(rows[0][0] or 0) if rows else Decimal(0)
    qs = _excluding(_committing_buys().filter(account_id=account.pk), exclude_order_id)
    total = qs.aggregate(v=Sum(_REMAINING_VALUE))["v"]
    return Decimal(total or 0)


# The same sum as a grouped SELECT (one account: one row, or none without open buys).
_BUY_COMMITMENT = CompiledSelect(
    lambda account_id: (
        _committing_buys()
        .filter(account_id=account_id)
        .order_by()
        .values("account_id")
        .annotate(v=Sum(_REMAINING_VALUE))
        .values_list("v")
    ),
    account_id=TradingAccount._meta.pk,
)


def order_commitment(order: Order) -> Decimal:
    """What one order adds to `open_buy_commitment` (the same rule, for an order in hand:
    a batch of orders keeps its accounts' buying power without reading it again)."""
    covered = (
        order.leg_role == LegRole.SLICE
        or (order.oco_group is not None and order.status == OrderStatus.HELD)
        or (order.status == OrderStatus.HELD and order.hold_reason == HoldReason.PARENT)
    )
    if order.side != OrderSide.BUY or order.status not in OPEN_STATUSES or covered:
        return ZERO
    return (order.qty - order.filled_qty) * (order.est_price or ZERO)


def open_sell_qty(*, account_id: object, symbol: str, exclude_order_id: object = None) -> Decimal:
    """Quantity the account's open sell orders of `symbol` may still sell (each quantity
    once: see open_buy_commitment)."""
    qs = Order.objects.filter(
        account_id=account_id, symbol=symbol, side=OrderSide.SELL, status__in=OPEN_STATUSES
    )
    qs = _excluding(qs.exclude(_COVERED), exclude_order_id)
    total = qs.aggregate(q=Sum(F("qty") - F("filled_qty")))["q"]
    return Decimal(total or 0)


def open_order_count(*, account_id: object, exclude_order_id: object = None) -> int:
    """Open orders of the account; an algo's slices count as part of their parent."""
    qs = Order.objects.filter(account_id=account_id, status__in=OPEN_STATUSES).exclude(
        leg_role=LegRole.SLICE
    )
    return _excluding(qs, exclude_order_id).count()


def orders_since_count(
    *, account_id: object, since: datetime, exclude_order_id: object = None
) -> int:
    """Orders the account placed since `since` that were not rejected (algo slices and
    exit legs are part of the order that made them)."""
    qs = (
        Order.objects.filter(account_id=account_id, created_at__gte=since)
        .exclude(status=OrderStatus.REJECTED)
        .exclude(parent__isnull=False)
    )
    return _excluding(qs, exclude_order_id).count()


def orders_at_broker(*, account_id: object, client_order_ids: Iterable[str]) -> list[OurOrder]:
    """Reconciliation's view of OMS's side at a real broker (pnl.registry's open-orders
    source): the account's open orders OMS sent there (not those OMS itself holds, nor
    external ones: the import keeps those in step) plus the orders the broker names by our
    ids, in any status."""
    ids = [pk for pk in map(parse_uuid, client_order_ids) if pk is not None]
    open_sent = Q(status__in=OPEN_STATUSES) & ~Q(status=OrderStatus.HELD) & Q(external=False)
    rows = Order.objects.filter(account_id=account_id).filter(open_sent | Q(pk__in=ids))
    return [
        OurOrder(
            order_id=str(order.pk),
            symbol=order.symbol,
            side=order.side,
            qty=order.qty,
            filled_qty=order.filled_qty,
            status=order.status,
            updated_at=order.updated_at,
        )
        for order in rows.only("id", "symbol", "side", "qty", "filled_qty", "status", "updated_at")
    ]
