"""Input validation and pre-trade risk.

Two stages, both pure functions of plain values:

1. `validate_order` — input errors (qty/price grid, required prices per type, TIF rules).
   A failure is a 400 `validation_error` naming the field; nothing is stored.
2. `risk_evaluate` — the account's limits against a `RiskContext` of facts read from the
   DB/cache (`risk_context_build`). A failure is a `RiskDecision` with a reason; the caller
   stores the order as `rejected` and answers 422 `risk_rejected`.

`risk_context_build` reads only what the account's limits need (a null limit costs no
query). It runs with the account row locked by the caller, so two orders of one account
cannot both spend the same buying power.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.cache import cache

from accounts.templatetags import oms_format
from oms_site.api import format_decimal
from orders.models import (
    OrderClass,
    OrderSide,
    OrderType,
    Product,
    TimeInForce,
)

ZERO = Decimal("0")
HUNDRED = Decimal("100")
MAX_QTY = Decimal("1000000000000")  # fits QtyField(20, 8)
MAX_PRICE = Decimal("1000000000000")


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
        from oms_site.errors import ValidationFailed

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

    from orders.automation.classes import check_algo, check_order_class

    check_order_class(errors, draft, rules)
    if draft.algo is not None:
        check_algo(errors, draft, rules)
    errors.raise_if_any()


def check_contingent_prices(draft: OrderDraft, last: Decimal | None) -> None:
    """Exit legs on the right side of the reference price (orders/risk_classes.py)."""
    from orders.automation.classes import check_contingent_prices as check

    check(draft, last)


# --- pre-trade risk -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Limits:
    max_order_value: Decimal | None = None
    max_order_qty: Decimal | None = None
    max_open_orders: int | None = None
    max_orders_per_day: int | None = None
    max_daily_loss: Decimal | None = None
    price_band_pct: Decimal | None = None
    allowed_symbols: list[str] | None = None
    allow_short: bool = False
    kill_switch: bool = False
    max_orders_per_minute: int | None = None


@dataclass(slots=True)
class RiskContext:
    """Facts the checks judge against. None = not read (its limit is off) or unknown."""

    limits: Limits
    account_active: bool = True
    account_status: str = "active"
    global_kill_switch: bool = False
    instrument_tradable: bool = True
    instrument_price_band_pct: Decimal | None = None
    market_open: bool = True
    allow_after_market: bool = False
    last: Decimal | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    buying_power: Decimal | None = None
    position_qty: Decimal | None = None
    open_sell_qty: Decimal | None = None
    open_orders: int | None = None
    orders_today: int | None = None
    orders_this_minute: int | None = None
    realized_today: Decimal | None = None
    # Skip checks that count placements (a trigger releasing an order already counted).
    counting_checks: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RiskDecision:
    ok: bool
    code: str = ""  # stable machine reason, e.g. "buying_power"
    message: str = ""  # the plain-words answer shown to the user
    queue_for_open: bool = False
    est_price: Decimal | None = None
    est_value: Decimal | None = None
    checks: list[dict[str, str]] = field(default_factory=list)

    @property
    def reject_reason(self) -> str:
        return f"{self.code}: {self.message}" if self.code else ""


def valuation_price(draft: OrderDraft, ctx: RiskContext) -> Decimal | None:
    """The price an order is valued at: its limit, else its stop, else the quote side it
    would take (ask for a buy, bid for a sell), else the last price."""
    if draft.limit_price is not None:
        return draft.limit_price
    if draft.stop_price is not None:
        return draft.stop_price
    side_price = ctx.ask if draft.side == OrderSide.BUY else ctx.bid
    return side_price if side_price is not None else ctx.last


def _fmt(value: Decimal | None) -> str:
    return "—" if value is None else format_decimal(value)


# Amounts and quantities in the checks' words read as on every page (the ticket shows them
# beside its own "Buying power 977,731.40 INR"): grouped, money to two places.
_money = oms_format.money
_qty = oms_format.qty


def risk_evaluate(draft: OrderDraft, symbol: str, ctx: RiskContext) -> RiskDecision:
    """Run every check in a fixed order; the first failure decides. Pure."""
    limits = ctx.limits
    price = valuation_price(draft, ctx)
    value = None if price is None else draft.qty * price
    passed: list[dict[str, str]] = []

    def reject(code: str, message: str) -> RiskDecision:
        return RiskDecision(
            ok=False,
            code=code,
            message=message,
            est_price=price,
            est_value=value,
            checks=[*passed, {"check": code, "result": "fail", "message": message}],
        )

    def ok(check: str, message: str) -> None:
        passed.append({"check": check, "result": "pass", "message": message})

    if ctx.global_kill_switch:
        return reject("kill_switch", "Trading is halted for everyone (global kill switch).")
    if limits.kill_switch:
        return reject("kill_switch", "Trading is halted on this account (kill switch).")
    ok("kill_switch", "No kill switch is engaged.")
    if not ctx.account_active:
        return reject("account_inactive", f"The account is {ctx.account_status}.")
    if not ctx.instrument_tradable:
        return reject("not_tradable", f"{symbol} is not tradable.")
    if limits.allowed_symbols is not None and symbol not in {
        str(s).upper() for s in limits.allowed_symbols
    }:
        return reject("symbol_not_allowed", f"{symbol} is not on this account's allowed list.")
    ok("symbol", f"{symbol} may be traded on this account.")

    queue_for_open = False
    if not ctx.market_open:
        if not ctx.allow_after_market:
            return reject("market_closed", f"The market for {symbol} is closed.")
        if draft.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            return reject(
                "market_closed",
                f"The market for {symbol} is closed; {draft.time_in_force} orders "
                "cannot wait for the open.",
            )
        queue_for_open = True
        ok("market_hours", "The market is closed: the order will wait for the open.")
    else:
        ok("market_hours", "The market is open.")

    if limits.max_order_qty is not None and draft.qty > limits.max_order_qty:
        return reject(
            "max_order_qty",
            f"Quantity {_qty(draft.qty)} is above the limit of {_qty(limits.max_order_qty)}.",
        )
    needs_value = limits.max_order_value is not None or draft.side == OrderSide.BUY
    if needs_value and value is None:
        return reject(
            "no_price",
            f"There is no price for {symbol} yet to value this order; use a limit price.",
        )
    if limits.max_order_value is not None and value > limits.max_order_value:
        return reject(
            "max_order_value",
            f"Order value {_money(value)} is above the limit of {_money(limits.max_order_value)}.",
        )
    ok("order_size", f"Estimated value {_money(value)}.")

    band = limits.price_band_pct
    if band is None:
        band = ctx.instrument_price_band_pct
    if band is not None and ctx.last and draft.limit_price is not None:
        distance = abs(draft.limit_price - ctx.last) * HUNDRED / ctx.last
        if distance > band:
            away = _fmt(distance.quantize(Decimal("0.01")))
            return reject(
                "price_band",
                f"Limit price {_qty(draft.limit_price)} is {away}% away from the last price "
                f"{_qty(ctx.last)}; the band is {_fmt(band)}%.",
            )
        ok("price_band", f"Within {_fmt(band)}% of the last price.")

    if ctx.counting_checks:
        per_minute = limits.max_orders_per_minute
        if per_minute is not None and (ctx.orders_this_minute or 0) > per_minute:
            return reject("rate_limit", f"More than {per_minute} orders a minute on this account.")
        if (
            limits.max_orders_per_day is not None
            and (ctx.orders_today or 0) >= limits.max_orders_per_day
        ):
            return reject(
                "max_orders_per_day",
                f"The account reached its {limits.max_orders_per_day} orders for today.",
            )
    if limits.max_open_orders is not None and (ctx.open_orders or 0) >= limits.max_open_orders:
        return reject(
            "max_open_orders",
            f"The account already has {ctx.open_orders} open orders "
            f"(limit {limits.max_open_orders}).",
        )

    if draft.side == OrderSide.SELL and not limits.allow_short:
        position = ctx.position_qty or ZERO
        sellable = position - (ctx.open_sell_qty or ZERO)
        if draft.qty > sellable:
            return reject(
                "short_selling",
                f"Selling {_qty(draft.qty)} would go short: {_qty(max(sellable, ZERO))} "
                "can be sold and short selling is not allowed on this account.",
            )
        ok("short_selling", f"{_qty(sellable)} available to sell.")

    if draft.side == OrderSide.BUY and ctx.buying_power is not None:
        if value > ctx.buying_power:
            return reject(
                "buying_power",
                f"Order value {_money(value)} is more than the buying power "
                f"{_money(ctx.buying_power)}.",
            )
        ok("buying_power", f"Buying power {_money(ctx.buying_power)} covers it.")

    if limits.max_daily_loss is not None and ctx.realized_today is not None:
        if -ctx.realized_today >= limits.max_daily_loss:
            return reject(
                "max_daily_loss",
                f"Today's realized loss {_money(-ctx.realized_today)} reached the limit "
                f"of {_money(limits.max_daily_loss)}.",
            )
        ok("daily_loss", "Within the daily loss limit.")

    return RiskDecision(
        ok=True,
        queue_for_open=queue_for_open,
        est_price=price,
        est_value=value,
        checks=passed,
    )


# --- the per-account rate limit (cache, fixed one-minute window) -------------------------


def rate_window_count(*, account_id: object, now: datetime, bump: bool = True) -> int:
    """Orders counted in the account's current minute (this one included when bump)."""
    minute = now.astimezone(UTC).strftime("%Y%m%d%H%M")
    key = f"orders:rate:{account_id}:{minute}"
    if not bump:
        return int(cache.get(key) or 0)
    # Increment first: the minute's key exists for all but its first order (add, then
    # incr, took one more round trip to the cache on every order).
    try:
        return int(cache.incr(key))
    except ValueError:  # the minute's first order
        pass
    if cache.add(key, 1, timeout=120):
        return 1
    # Another order of the account added it in between (a minute's key lives 120 s).
    return int(cache.incr(key))


def utc_day_start(now: datetime) -> datetime:
    day = now.astimezone(UTC)
    return day.replace(hour=0, minute=0, second=0, microsecond=0)


# --- reading the facts ----------------------------------------------------------------------


def limits_of(account: Any) -> Limits:
    from accounts.models import RiskLimits, TradingAccount

    if TradingAccount.risk_limits.is_cached(account):
        # Read together with the locked account row (select_related): no query of its own.
        row = getattr(account, "risk_limits", None)
    else:
        row = RiskLimits.objects.filter(account_id=account.pk).first()
    if row is None:
        return Limits()
    return Limits(
        max_order_value=row.max_order_value,
        max_order_qty=row.max_order_qty,
        max_open_orders=row.max_open_orders,
        max_orders_per_day=row.max_orders_per_day,
        max_daily_loss=row.max_daily_loss,
        price_band_pct=row.price_band_pct,
        allowed_symbols=row.allowed_symbols,
        allow_short=row.allow_short,
        kill_switch=row.kill_switch,
        max_orders_per_minute=row.max_orders_per_minute,
    )


def risk_context_build(
    *,
    account: Any,
    instrument: Any,
    draft: OrderDraft,
    quote: Any,
    now: datetime,
    exclude_order_id: object = None,
    own_commitment: Decimal = ZERO,
    orders_this_minute: int | None = None,
    counting_checks: bool = True,
) -> RiskContext:
    """Read what the checks need for this order. Call with the account row locked.

    exclude_order_id / own_commitment: an existing order being re-checked (a trigger
    releasing it, a modification) must not count against itself.
    """
    from accounts.selectors import account_buying_power, global_kill_switch_engaged
    from marketdata.calendar import is_market_open
    from orders.core import selectors
    from pnl.selectors import position_qty, realized_pnl_since

    limits = limits_of(account)
    ctx = RiskContext(
        limits=limits,
        account_active=account.status == "active",
        account_status=account.status,
        global_kill_switch=global_kill_switch_engaged(),
        instrument_tradable=instrument.tradable,
        instrument_price_band_pct=instrument.price_band_pct,
        market_open=is_market_open(instrument_or_exchange=instrument, at=now),
        allow_after_market=account.allow_after_market_orders,
        last=getattr(quote, "last", None),
        bid=getattr(quote, "bid", None),
        ask=getattr(quote, "ask", None),
        orders_this_minute=orders_this_minute,
        counting_checks=counting_checks,
    )
    if draft.side == OrderSide.BUY:
        ctx.buying_power = account_buying_power(account=account) + own_commitment
    elif not limits.allow_short:
        ctx.position_qty = position_qty(account_id=account.pk, symbol=instrument.symbol)
        ctx.open_sell_qty = selectors.open_sell_qty(
            account_id=account.pk, symbol=instrument.symbol, exclude_order_id=exclude_order_id
        )
    if limits.max_open_orders is not None:
        ctx.open_orders = selectors.open_order_count(
            account_id=account.pk, exclude_order_id=exclude_order_id
        )
    if counting_checks and limits.max_orders_per_day is not None:
        ctx.orders_today = selectors.orders_since_count(
            account_id=account.pk, since=utc_day_start(now), exclude_order_id=exclude_order_id
        )
    if limits.max_daily_loss is not None:
        ctx.realized_today = realized_pnl_since(account_id=account.pk, since=utc_day_start(now))
    return ctx
