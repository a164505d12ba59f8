"""Preparing a placement (shared by place and preview): the request as asked, the account
and instrument it names, input validation, the request's fingerprint, the checks against the
market; and how a system placement links to other orders (`PlacementLinks`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Required, TypedDict

from django.utils import timezone

from accounts.models import TradingAccount, User
from accounts.selectors import account_get_for_user
from marketdata.calendar import next_open, session_close, trading_date
from marketdata.models import Instrument
from marketdata.selectors import instrument_get, quote_latest
from oms_site.api import format_decimal
from oms_site.errors import NotFound, PermissionDenied, ValidationFailed
from orders.core import risk
from orders.core.hooks import placement_extensions
from orders.core.validation import InstrumentRules, OrderDraft
from orders.models import Order, OrderClass, OrderSide, OrderType, TimeInForce
from orders.triggers import trailing_stop_price
from orders.triggers.trailing import Side


@dataclass(frozen=True, slots=True)
class PlacementLinks:
    """How a system placement hangs together with other orders (exit legs, algo slices,
    GTT orders, re-entries) and how its risk check treats them.

    risk_exclude_ids: open orders that must not count against this one (the parent whose
    quantity a slice is part of; the OCO sibling a stop-loss replaces).
    own_commitment: buying power those excluded orders hold that this one may use.
    """

    parent_id: object = None
    leg_role: str = ""
    oco_group: object = None
    gtt_id: object = None
    reentry_of_id: object = None
    reentry_attempt: int = 0
    counting_checks: bool = True
    risk_exclude_ids: tuple = ()
    own_commitment: Decimal = Decimal("0")


@dataclass(frozen=True, slots=True)
class PlaceResult:
    order: Order
    created: bool  # False: an idempotent replay of an existing client_order_id


class OrderFields(TypedDict, total=False):
    """The order as asked for: the keyword arguments of `order_place` after who places it."""

    symbol: Required[str]
    side: Required[str]
    order_type: Required[str]
    qty: Required[Decimal]
    limit_price: Decimal | None
    stop_price: Decimal | None
    trail_price: Decimal | None
    trail_percent: Decimal | None
    time_in_force: str
    expire_at: datetime | None
    display_qty: Decimal | None
    order_class: str
    take_profit: dict | None
    stop_loss: dict | None
    client_order_id: str | None
    tag: str
    product: str
    algo: dict | None
    reentry: dict | None


@dataclass(frozen=True, slots=True)
class PlaceRequest:
    """`OrderFields` with their defaults."""

    symbol: str
    side: str
    order_type: str
    qty: Decimal
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    time_in_force: str = TimeInForce.DAY
    expire_at: datetime | None = None
    display_qty: Decimal | None = None
    order_class: str = "simple"
    take_profit: dict | None = None
    stop_loss: dict | None = None
    client_order_id: str | None = None
    tag: str = ""
    product: str = "delivery"
    algo: dict | None = None
    reentry: dict | None = None

    def draft(self) -> OrderDraft:
        return OrderDraft(
            side=self.side,
            type=self.order_type,
            qty=self.qty,
            limit_price=self.limit_price,
            stop_price=self.stop_price,
            trail_price=self.trail_price,
            trail_percent=self.trail_percent,
            time_in_force=self.time_in_force,
            expire_at=self.expire_at,
            display_qty=self.display_qty,
            order_class=self.order_class,
            take_profit=self.take_profit,
            stop_loss=self.stop_loss,
            product=self.product,
            algo=self.algo,
        )

    def extras(self) -> dict[str, Any]:
        """What the core passes through to the placement extensions as it is."""
        return {} if self.reentry is None else {"reentry": self.reentry}


@dataclass(slots=True)
class Prepared:
    account: TradingAccount
    instrument: Instrument
    draft: OrderDraft
    quote: Any
    now: datetime
    hash: str
    extras: dict[str, Any]


# --- who and what -----------------------------------------------------------------------------


def account_for_trading(*, user: User | None, account_id: object) -> TradingAccount:
    """The account to place on. Not visible → 400 naming `account` (API.md); view-only → 403."""
    if user is None:
        account = TradingAccount.objects.filter(pk=account_id).first()
        if account is None:
            raise ValidationFailed(
                "account: unknown account.", fields={"account": ["Unknown account."]}
            )
        return account
    try:
        return account_get_for_user(user=user, account_id=account_id, level="trade")
    except NotFound as exc:
        raise ValidationFailed(
            "account: unknown account.", fields={"account": ["Unknown account."]}
        ) from exc
    except PermissionDenied as exc:
        raise PermissionDenied("You may only view this account, not trade on it.") from exc


def instrument_for_trading(symbol: str) -> Instrument:
    try:
        return instrument_get(symbol=symbol)
    except NotFound as exc:
        raise ValidationFailed(
            f"symbol: unknown symbol {symbol!r}.", fields={"symbol": ["Unknown symbol."]}
        ) from exc


def instrument_rules(instrument: Instrument) -> InstrumentRules:
    return InstrumentRules(
        symbol=instrument.symbol,
        tick_size=instrument.tick_size,
        lot_size=instrument.lot_size,
        tradable=instrument.tradable,
        price_band_pct=instrument.price_band_pct,
    )


# --- the request's fingerprint ----------------------------------------------------------------


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items())}
    return value


def request_hash(values: dict[str, Any]) -> str:
    """Fingerprint of an order request: same values (however spelled) → same hash."""
    payload = json.dumps(_canonical(values), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def _fingerprint(request: PlaceRequest, *, account: TradingAccount, symbol: str) -> str:
    extra: dict[str, Any] = {}
    if request.algo is not None:
        extra["algo"] = request.algo
    if request.reentry is not None:
        extra["reentry"] = request.reentry
    values = {
        name: getattr(request, name)
        for name in (
            "side",
            "qty",
            "limit_price",
            "stop_price",
            "trail_price",
            "trail_percent",
            "time_in_force",
            "expire_at",
            "display_qty",
            "order_class",
            "take_profit",
            "stop_loss",
            "client_order_id",
            "tag",
            "product",
        )
    }
    return request_hash(
        {
            **extra,
            **values,
            "account": str(account.pk),
            "symbol": symbol,
            "type": request.order_type,
        }
    )


# --- checks against the market ----------------------------------------------------------------


def good_till(
    *, instrument: Instrument, tif: str, expire_at: datetime | None, now: datetime, queued: bool
) -> datetime | None:
    """When the order stops being good: gtd → expire_at; day → the close of its trading day
    (for SIM, open 24×7, the next UTC midnight: the SIM "day" is the UTC calendar day)."""
    if tif == TimeInForce.GTD:
        return expire_at
    if tif != TimeInForce.DAY:
        return None
    start = now
    if queued:
        start = next_open(instrument_or_exchange=instrument, at=now) or now
    day = trading_date(instrument_or_exchange=instrument, at=start)
    return session_close(instrument_or_exchange=instrument, on=day)


def check_stop_side(draft: OrderDraft, last: Decimal | None, symbol: str) -> None:
    """A stop the market has already crossed would fire at once: refuse it (400)."""
    if last is None or draft.stop_price is None:
        return
    if draft.side == OrderSide.BUY and draft.stop_price <= last:
        raise ValidationFailed(
            f"stop_price: a buy stop must be above the last price {format_decimal(last)}.",
            fields={"stop_price": [f"Must be above the last price {format_decimal(last)}."]},
        )
    if draft.side == OrderSide.SELL and draft.stop_price >= last:
        raise ValidationFailed(
            f"stop_price: a sell stop must be below the last price {format_decimal(last)}.",
            fields={"stop_price": [f"Must be below the last price {format_decimal(last)}."]},
        )


def _trailing_start(draft: OrderDraft, instrument: Instrument, last: Decimal | None) -> Decimal:
    if last is None:
        raise ValidationFailed(
            f"trail_price: there is no last price for {instrument.symbol} yet to trail from.",
            fields={"trail_price": ["No last price to trail from yet."]},
        )
    return trailing_stop_price(
        Side(draft.side),
        last,
        instrument.tick_size,
        trail_price=draft.trail_price,
        trail_percent=draft.trail_percent,
    )


def _check_market(draft: OrderDraft, instrument: Instrument, last: Decimal | None) -> None:
    if draft.type in (OrderType.STOP, OrderType.STOP_LIMIT):
        check_stop_side(draft, last, instrument.symbol)
    elif draft.type == OrderType.TRAILING_STOP:
        draft.stop_price = _trailing_start(draft, instrument, last)
    for extension in placement_extensions():
        if extension.check_market is not None:
            extension.check_market(draft, last)


# --- prepare ----------------------------------------------------------------------------------


def prepare(*, user: User | None, account_id: object, request: PlaceRequest) -> Prepared:
    """Everything a placement (or its dry run) knows before it locks the account: raises
    the 400 / 403 errors; nothing is stored."""
    now = timezone.now()
    account = account_for_trading(user=user, account_id=account_id)
    instrument = instrument_for_trading(request.symbol)
    take_profit = request.take_profit
    if (
        request.order_class == OrderClass.OCO
        and request.limit_price is None
        and isinstance(take_profit, dict)
    ):
        # An oco order is its take-profit limit: the leg's price is the order's limit.
        request = dataclasses.replace(request, limit_price=take_profit.get("limit_price"))
    draft = request.draft()
    risk.validate_order(draft, instrument_rules(instrument), now=now)
    extras = request.extras()
    for extension in placement_extensions():
        if extension.check_request is not None:
            extension.check_request(draft, extras)
    fingerprint = _fingerprint(request, account=account, symbol=instrument.symbol)
    quote = quote_latest(symbol=instrument.symbol)
    _check_market(draft, instrument, getattr(quote, "last", None))
    return Prepared(account, instrument, draft, quote, now, fingerprint, extras)
