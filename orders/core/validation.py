"""Input validation of a new order: pure checks of plain values (qty/price grid, required
prices per type, TIF rules; order classes and algos through the placement extensions of
orders/core/hooks.py). A failure is a 400 `validation_error` naming the field; nothing is
stored. Pre-trade risk is orders/core/risk.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from oms_site.api import format_decimal
from oms_site.errors import ValidationFailed
from orders.core.hooks import placement_extensions
from orders.models import OrderClass, OrderSide, OrderType, Product, TimeInForce

MAX_QTY = Decimal("1000000000000")  # fits QtyField(20, 8)
MAX_PRICE = Decimal("1000000000000")
ZERO = Decimal("0")
HUNDRED = Decimal("100")


# --- the order as asked for -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstrumentRules:
    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    tradable: bool = True
    price_band_pct: Decimal | None = None


@dataclass(slots=True)
class OrderDraft:
    """A new order's values after type parsing (serializer) and before any check."""

    side: str
    type: str
    qty: Decimal
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    time_in_force: str = TimeInForce.DAY
    expire_at: datetime | None = None
    display_qty: Decimal | None = None
    order_class: str = OrderClass.SIMPLE
    take_profit: dict | None = None
    stop_loss: dict | None = None
    product: str = Product.DELIVERY
    algo: dict | None = None


class FieldErrors:
    """Collects field → messages; `.raise_if_any()` raises one ValidationFailed."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def raise_if_any(self) -> None:
        if self.fields:
            name, messages = next(iter(self.fields.items()))
            raise ValidationFailed(f"{name}: {messages[0]}", fields=self.fields)


def _on_grid(value: Decimal, step: Decimal) -> bool:
    if step <= 0:
        return True
    try:
        return (value % step) == 0
    except InvalidOperation:
        return False


def check_qty(errors: FieldErrors, name: str, qty: Decimal | None, rules: InstrumentRules) -> None:
    if qty is None:
        errors.add(name, "This field is required.")
    elif not qty.is_finite() or qty <= 0:
        errors.add(name, "Must be a positive quantity.")
    elif qty > MAX_QTY:
        errors.add(name, "Too large.")
    elif not _on_grid(qty, rules.lot_size):
        errors.add(
            name,
            f"Must be a multiple of the lot size {format_decimal(rules.lot_size)} "
            f"of {rules.symbol}.",
        )


def check_price(
    errors: FieldErrors, name: str, price: Decimal | None, rules: InstrumentRules
) -> None:
    if price is None:
        return
    if not price.is_finite() or price <= 0:
        errors.add(name, "Must be a positive price.")
    elif price > MAX_PRICE:
        errors.add(name, "Too large.")
    elif not _on_grid(price, rules.tick_size):
        errors.add(
            name,
            f"Must be a multiple of the tick size {format_decimal(rules.tick_size)} "
            f"of {rules.symbol}.",
        )


def _require(errors: FieldErrors, name: str, value: Any, order_type: str) -> None:
    if value is None:
        errors.add(name, f"Required for {order_type} orders.")


def _forbid(errors: FieldErrors, name: str, value: Any, order_type: str) -> None:
    if value is not None:
        errors.add(name, f"Not used by {order_type} orders; leave it null.")


def check_trail(
    errors: FieldErrors,
    trail_price: Decimal | None,
    trail_percent: Decimal | None,
    rules: InstrumentRules,
) -> None:
    if (trail_price is None) == (trail_percent is None):
        errors.add("trail_price", "Give exactly one of trail_price and trail_percent.")
        return
    check_price(errors, "trail_price", trail_price, rules)
    if trail_percent is not None and (
        not trail_percent.is_finite() or not ZERO < trail_percent < HUNDRED
    ):
        errors.add("trail_percent", "Must be between 0 and 100 (exclusive).")


def validate_order(draft: OrderDraft, rules: InstrumentRules, *, now: datetime) -> None:
    """Raise ValidationFailed (400) naming every bad field; return None when valid."""
    errors = FieldErrors()
    if draft.side not in OrderSide.values:
        errors.add("side", "Use buy or sell.")
    if draft.type not in OrderType.values:
        errors.add("type", "Use market, limit, stop, stop_limit or trailing_stop.")
    if draft.time_in_force not in TimeInForce.values:
        errors.add("time_in_force", "Use day, gtc, gtd, ioc or fok.")
    if draft.order_class not in OrderClass.values:
        errors.add("order_class", "Use simple, bracket, oco or oto.")
    if draft.product not in Product.values:
        errors.add("product", "Use intraday or delivery.")
    errors.raise_if_any()

    check_qty(errors, "qty", draft.qty, rules)
    order_type = draft.type
    needs_limit = order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    needs_stop = order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
    (_require if needs_limit else _forbid)(errors, "limit_price", draft.limit_price, order_type)
    (_require if needs_stop else _forbid)(errors, "stop_price", draft.stop_price, order_type)
    check_price(errors, "limit_price", draft.limit_price, rules)
    check_price(errors, "stop_price", draft.stop_price, rules)
    if order_type == OrderType.TRAILING_STOP:
        check_trail(errors, draft.trail_price, draft.trail_percent, rules)
    else:
        _forbid(errors, "trail_price", draft.trail_price, order_type)
        _forbid(errors, "trail_percent", draft.trail_percent, order_type)

    tif = draft.time_in_force
    if tif in (TimeInForce.IOC, TimeInForce.FOK) and order_type not in (
        OrderType.MARKET,
        OrderType.LIMIT,
    ):
        errors.add("time_in_force", f"{tif} is only for market and limit orders.")
    if tif == TimeInForce.GTD:
        if draft.expire_at is None:
            errors.add("expire_at", "Required when time_in_force is gtd.")
        elif draft.expire_at <= now:
            errors.add("expire_at", "Must be in the future.")
    elif draft.expire_at is not None:
        errors.add("expire_at", "Only used when time_in_force is gtd.")

    if draft.display_qty is not None:
        if order_type != OrderType.LIMIT:
            errors.add("display_qty", "Iceberg display quantity is only for limit orders.")
        else:
            check_qty(errors, "display_qty", draft.display_qty, rules)
            if draft.qty is not None and draft.display_qty > draft.qty:
                errors.add("display_qty", "Must not exceed qty.")

    for extension in placement_extensions():
        if extension.check is not None:
            extension.check(errors, draft, rules)
    errors.raise_if_any()
