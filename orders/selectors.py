"""Reads of orders: the blotter, one order for a user, aggregates for pre-trade risk."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, ExpressionWrapper, F, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import TradingAccount, User
from accounts.selectors import account_get_for_user, account_list_for_user
from oms_site.errors import NotFound, ValidationFailed
from orders.models import (
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    Order,
    OrderEvent,
    OrderSide,
    OrderStatus,
)

ZERO = Decimal("0")


def _parse_uuid(value: object) -> uuid.UUID | None:
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
    pk = _parse_uuid(order_id)
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
    (created_at bounds, datetimes). Unknown enum values → 400 naming the field.
    """
    filters = filters or {}
    qs = order_visible_qs(user=user).select_related("account")
    account = filters.get("account")
    if account:
        pk = _parse_uuid(account)
        if pk is None:
            raise ValidationFailed(
                "account: not a valid id.", fields={"account": ["Not a valid id."]}
            )
        qs = qs.filter(account_id=pk)
    if filters.get("symbol"):
        qs = qs.filter(symbol=str(filters["symbol"]).upper())
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


def order_legs(*, order: Order) -> list[Order]:
    if order.order_class == "simple" and order.parent_id is None:
        return []
    return list(Order.objects.filter(parent=order).order_by("created_at", "id"))


# --- aggregates for pre-trade risk ----------------------------------------------------------

_REMAINING_VALUE = ExpressionWrapper(
    (F("qty") - F("filled_qty")) * Coalesce(F("est_price"), Value(ZERO)),
    output_field=DecimalField(max_digits=38, decimal_places=8),
)


def open_buy_commitment(
    account: TradingAccount, *, exclude_order_id: object | None = None
) -> Decimal:
    """What the account's open buy orders still commit: Σ leaves qty × valuation price.

    Registered as the buying-power commitment provider (accounts.registry) by
    OrdersConfig.ready(), so `account_buying_power` = cash − this.
    """
    qs = Order.objects.filter(account_id=account.pk, side=OrderSide.BUY, status__in=OPEN_STATUSES)
    if exclude_order_id is not None:
        qs = qs.exclude(pk=exclude_order_id)
    total = qs.aggregate(v=Sum(_REMAINING_VALUE))["v"]
    return Decimal(total or 0)


def open_sell_qty(*, account_id: object, symbol: str, exclude_order_id: object = None) -> Decimal:
    """Quantity the account's open sell orders of `symbol` may still sell."""
    qs = Order.objects.filter(
        account_id=account_id, symbol=symbol, side=OrderSide.SELL, status__in=OPEN_STATUSES
    )
    if exclude_order_id is not None:
        qs = qs.exclude(pk=exclude_order_id)
    total = qs.aggregate(q=Sum(F("qty") - F("filled_qty")))["q"]
    return Decimal(total or 0)


def open_order_count(*, account_id: object, exclude_order_id: object = None) -> int:
    qs = Order.objects.filter(account_id=account_id, status__in=OPEN_STATUSES)
    if exclude_order_id is not None:
        qs = qs.exclude(pk=exclude_order_id)
    return qs.count()


def orders_since_count(
    *, account_id: object, since: datetime, exclude_order_id: object = None
) -> int:
    """Orders the account placed since `since` that were not rejected."""
    qs = Order.objects.filter(account_id=account_id, created_at__gte=since).exclude(
        status=OrderStatus.REJECTED
    )
    if exclude_order_id is not None:
        qs = qs.exclude(pk=exclude_order_id)
    return qs.count()
