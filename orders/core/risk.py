"""Pre-trade risk (input validation, the stage before it, is orders/core/validation.py;
its names are importable from here too: `risk.OrderDraft`, `risk.validate_order`).

`risk_evaluate` — the account's limits against a `RiskContext` of facts read from the
   DB/cache (`risk_context_build`). A failure is a `RiskDecision` with a reason; the caller
   stores the order as `rejected` and answers 422 `risk_rejected`.

`risk_context_build` reads only what the account's limits need (a null limit costs no
query). It runs with the account row locked by the caller, so two orders of one account
cannot both spend the same buying power.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.core.cache import cache

from accounts.models import RiskLimits, TradingAccount
from accounts.selectors import account_buying_power, global_kill_switch_engaged
from accounts.templatetags import oms_format
from marketdata.calendar import is_market_open
from oms_site.api import format_decimal
from orders.core import selectors
from orders.core.validation import (
    FieldErrors,
    InstrumentRules,
    OrderDraft,
    check_price,
    check_qty,
    check_trail,
    validate_order,
)
from orders.models import OrderSide, TimeInForce
from pnl.selectors import position_qty, realized_pnl_since

__all__ = [
    "FieldErrors",
    "InstrumentRules",
    "KnownFacts",
    "Limits",
    "OrderDraft",
    "RiskContext",
    "RiskDecision",
    "check_price",
    "check_qty",
    "check_trail",
    "limits_of",
    "rate_window_count",
    "risk_context_build",
    "risk_evaluate",
    "utc_day_start",
    "validate_order",
    "valuation_price",
]

ZERO = Decimal("0")
HUNDRED = Decimal("100")


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


@dataclass(slots=True)
class _Judge:
    """One evaluation's running state: the valuation and the checks passed so far."""

    price: Decimal | None
    value: Decimal | None
    passed: list[dict[str, str]] = field(default_factory=list)
    queue_for_open: bool = False

    def reject(self, code: str, message: str) -> RiskDecision:
        return RiskDecision(
            ok=False,
            code=code,
            message=message,
            est_price=self.price,
            est_value=self.value,
            checks=[*self.passed, {"check": code, "result": "fail", "message": message}],
        )

    def ok(self, check: str, message: str) -> None:
        self.passed.append({"check": check, "result": "pass", "message": message})


Step = Callable[[_Judge, OrderDraft, str, RiskContext], "RiskDecision | None"]


def _check_halts(judge: _Judge, draft: OrderDraft, symbol: str, ctx: RiskContext):
    limits = ctx.limits
    if ctx.global_kill_switch:
        return judge.reject("kill_switch", "Trading is halted for everyone (global kill switch).")
    if limits.kill_switch:
        return judge.reject("kill_switch", "Trading is halted on this account (kill switch).")
    judge.ok("kill_switch", "No kill switch is engaged.")
    if not ctx.account_active:
        return judge.reject("account_inactive", f"The account is {ctx.account_status}.")
    if not ctx.instrument_tradable:
        return judge.reject("not_tradable", f"{symbol} is not tradable.")
    if limits.allowed_symbols is not None and symbol not in {
        str(s).upper() for s in limits.allowed_symbols
    }:
        message = f"{symbol} is not on this account's allowed list."
        return judge.reject("symbol_not_allowed", message)
    judge.ok("symbol", f"{symbol} may be traded on this account.")
    return None


def _check_market_hours(judge: _Judge, draft: OrderDraft, symbol: str, ctx: RiskContext):
    if ctx.market_open:
        judge.ok("market_hours", "The market is open.")
        return None
    if not ctx.allow_after_market:
        return judge.reject("market_closed", f"The market for {symbol} is closed.")
    if draft.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
        return judge.reject(
            "market_closed",
            f"The market for {symbol} is closed; {draft.time_in_force} orders "
            "cannot wait for the open.",
        )
    judge.queue_for_open = True
    judge.ok("market_hours", "The market is closed: the order will wait for the open.")
    return None


def _check_size(judge: _Judge, draft: OrderDraft, symbol: str, ctx: RiskContext):
    limits, value = ctx.limits, judge.value
    if limits.max_order_qty is not None and draft.qty > limits.max_order_qty:
        return judge.reject(
            "max_order_qty",
            f"Quantity {_qty(draft.qty)} is above the limit of {_qty(limits.max_order_qty)}.",
        )
    needs_value = limits.max_order_value is not None or draft.side == OrderSide.BUY
    if needs_value and value is None:
        return judge.reject(
            "no_price",
            f"There is no price for {symbol} yet to value this order; use a limit price.",
        )
    if limits.max_order_value is not None and value > limits.max_order_value:
        return judge.reject(
            "max_order_value",
            f"Order value {_money(value)} is above the limit of {_money(limits.max_order_value)}.",
        )
    judge.ok("order_size", f"Estimated value {_money(value)}.")
    return None


def _check_price_band(judge: _Judge, draft: OrderDraft, symbol: str, ctx: RiskContext):
    band = ctx.limits.price_band_pct
    if band is None:
        band = ctx.instrument_price_band_pct
    if band is None or not ctx.last or draft.limit_price is None:
        return None
    distance = abs(draft.limit_price - ctx.last) * HUNDRED / ctx.last
    if distance > band:
        away = _fmt(distance.quantize(Decimal("0.01")))
        return judge.reject(
            "price_band",
            f"Limit price {_qty(draft.limit_price)} is {away}% away from the last price "
            f"{_qty(ctx.last)}; the band is {_fmt(band)}%.",
        )
    judge.ok("price_band", f"Within {_fmt(band)}% of the last price.")
    return None


def _check_counts(judge: _Judge, draft: OrderDraft, symbol: str, ctx: RiskContext):
    limits = ctx.limits
    if ctx.counting_checks:
        per_minute = limits.max_orders_per_minute
        if per_minute is not None and (ctx.orders_this_minute or 0) > per_minute:
            message = f"More than {per_minute} orders a minute on this account."
            return judge.reject("rate_limit", message)
        if (
            limits.max_orders_per_day is not None
            and (ctx.orders_today or 0) >= limits.max_orders_per_day
        ):
            return judge.reject(
                "max_orders_per_day",
                f"The account reached its {limits.max_orders_per_day} orders for today.",
            )
    if limits.max_open_orders is not None and (ctx.open_orders or 0) >= limits.max_open_orders:
        return judge.reject(
            "max_open_orders",
            f"The account already has {ctx.open_orders} open orders "
            f"(limit {limits.max_open_orders}).",
        )
    return None


def _check_short_selling(judge: _Judge, draft: OrderDraft, symbol: str, ctx: RiskContext):
    if draft.side != OrderSide.SELL or ctx.limits.allow_short:
        return None
    position = ctx.position_qty or ZERO
    sellable = position - (ctx.open_sell_qty or ZERO)
    if draft.qty > sellable:
        return judge.reject(
            "short_selling",
            f"Selling {_qty(draft.qty)} would go short: {_qty(max(sellable, ZERO))} "
            "can be sold and short selling is not allowed on this account.",
        )
    judge.ok("short_selling", f"{_qty(sellable)} available to sell.")
    return None


def _check_buying_power(judge: _Judge, draft: OrderDraft, symbol: str, ctx: RiskContext):
    if draft.side != OrderSide.BUY or ctx.buying_power is None:
        return None
    if judge.value > ctx.buying_power:
        return judge.reject(
            "buying_power",
            f"Order value {_money(judge.value)} is more than the buying power "
            f"{_money(ctx.buying_power)}.",
        )
    judge.ok("buying_power", f"Buying power {_money(ctx.buying_power)} covers it.")
    return None


def _check_daily_loss(judge: _Judge, draft: OrderDraft, symbol: str, ctx: RiskContext):
    limits = ctx.limits
    if limits.max_daily_loss is None or ctx.realized_today is None:
        return None
    if -ctx.realized_today >= limits.max_daily_loss:
        return judge.reject(
            "max_daily_loss",
            f"Today's realized loss {_money(-ctx.realized_today)} reached the limit "
            f"of {_money(limits.max_daily_loss)}.",
        )
    judge.ok("daily_loss", "Within the daily loss limit.")
    return None


# The checks in their fixed order; the first failure decides.
RISK_STEPS: tuple[Step, ...] = (
    _check_halts,
    _check_market_hours,
    _check_size,
    _check_price_band,
    _check_counts,
    _check_short_selling,
    _check_buying_power,
    _check_daily_loss,
)


def risk_evaluate(draft: OrderDraft, symbol: str, ctx: RiskContext) -> RiskDecision:
    """Run every check in a fixed order; the first failure decides. Pure."""
    price = valuation_price(draft, ctx)
    judge = _Judge(price=price, value=None if price is None else draft.qty * price)
    for step in RISK_STEPS:
        rejected = step(judge, draft, symbol, ctx)
        if rejected is not None:
            return rejected
    return RiskDecision(
        ok=True,
        queue_for_open=judge.queue_for_open,
        est_price=judge.price,
        est_value=judge.value,
        checks=judge.passed,
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


@dataclass(frozen=True, slots=True)
class KnownFacts:
    """Facts the caller already read under the same account lock (a batch of orders reads
    them once): None = read them here."""

    global_kill_switch: bool | None = None
    buying_power: Decimal | None = None  # the account's, before `own_commitment`


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
    known: KnownFacts | None = None,
) -> RiskContext:
    """Read what the checks need for this order. Call with the account row locked.

    exclude_order_id / own_commitment: an existing order being re-checked (a trigger
    releasing it, a modification) must not count against itself.
    """
    known = known or KnownFacts()
    halted = known.global_kill_switch
    limits = limits_of(account)
    ctx = RiskContext(
        limits=limits,
        account_active=account.status == "active",
        account_status=account.status,
        global_kill_switch=global_kill_switch_engaged() if halted is None else halted,
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
        buying_power = known.buying_power
        if buying_power is None:
            buying_power = account_buying_power(account=account)
        ctx.buying_power = buying_power + own_commitment
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
