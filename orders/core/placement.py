"""Preparing a placement (shared by place and preview): the request as asked, the account
and instrument it names, input validation, the request's fingerprint, the checks against the
market; and how a system placement links to other orders (`PlacementLinks`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Required, TypedDict

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone

from accounts.models import MembershipRole, TradingAccount, User
from accounts.selectors import (
    account_get_for_user,
    account_locked_with_limits,
    account_roles_for_user,
)
from marketdata.calendar import next_open, session_close, trading_date
from marketdata.models import Instrument
from marketdata.selectors import instrument_get_current, quote_latest
from oms_site.api import format_decimal
from oms_site.errors import ApplicationError, NotFound, PermissionDenied, ValidationFailed
from oms_site.locks import lock_query, lock_rows
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
    account: TradingAccount | None  # None: read (locked) by the placement itself
    instrument: Instrument
    draft: OrderDraft
    quote: Any
    now: datetime
    hash: str
    extras: dict[str, Any]


# --- who and what -----------------------------------------------------------------------------


_TRADING_ROLES = frozenset({MembershipRole.TRADE, MembershipRole.OWNER})


def unknown_account() -> ValidationFailed:
    return ValidationFailed("account: unknown account.", fields={"account": ["Unknown account."]})


def account_for_trading(
    *, user: User | None, account_id: object, for_update: bool = False
) -> TradingAccount:
    """The account to place on. Not visible → 400 naming `account` (API.md); view-only → 403.

    for_update: locked (call inside a transaction), with its risk limits, in one query."""
    if user is None:
        try:
            accounts = TradingAccount.objects.filter(pk=account_id)
            if for_update:
                accounts = lock_query(accounts.select_related("risk_limits"))
            account = accounts.first()
        except (ValueError, TypeError, DjangoValidationError) as exc:
            raise unknown_account() from exc
        if account is None:
            raise unknown_account()
        return account
    try:
        if for_update:
            return account_locked_with_limits(user=user, account_id=account_id)
        return account_get_for_user(user=user, account_id=account_id, level="trade")
    except NotFound as exc:
        raise unknown_account() from exc
    except PermissionDenied as exc:
        raise PermissionDenied("You may only view this account, not trade on it.") from exc


def account_key(account_id: object) -> str | None:
    """The account id as the database writes it (None: no account id at all), so that
    two spellings of one id fingerprint the same order before the account is read."""
    try:
        return str(uuid.UUID(str(account_id)))
    except (ValueError, TypeError, AttributeError):
        return None


def lock_account_for_trading(*, user: User | None, account_id: str | None) -> TradingAccount:
    """`account_for_trading`, locked: the one read of the account a placement makes."""
    if account_id is None:
        raise unknown_account()
    return account_for_trading(user=user, account_id=account_id, for_update=True)


def accounts_for_trading_locked(
    *, user: User | None, account_ids: list[str]
) -> dict[str, TradingAccount | ApplicationError]:
    """Several accounts as `lock_account_for_trading` reads one, in one query and locked
    in pk order (a batch of orders): each id → its locked account, or the error placing on
    it raises. Accounts the user may not trade on are not locked."""
    roles = (
        dict.fromkeys(account_ids, MembershipRole.OWNER)
        if user is None
        else account_roles_for_user(user=user, account_ids=account_ids)
    )
    tradable = sorted(k for k, role in roles.items() if role in _TRADING_ROLES)
    locked = lock_rows(TradingAccount.objects.select_related("risk_limits").filter(pk__in=tradable))
    found: dict[str, TradingAccount | ApplicationError] = {str(a.pk): a for a in locked}
    for key in account_ids:
        if key in found:
            continue
        if roles.get(key) == MembershipRole.VIEW:
            found[key] = PermissionDenied("You may only view this account, not trade on it.")
        else:
            found[key] = unknown_account()
    return found


def instrument_for_trading(symbol: str) -> Instrument:
    try:
        return instrument_get_current(symbol=symbol)
    except NotFound as exc:
        raise ValidationFailed(
            f"symbol: unknown symbol {symbol!r}.", fields={"symbol": ["Unknown symbol."]}
        ) from exc


class Lookups:
    """Instruments and quotes by symbol, each read once: a batch of orders shares one."""

    def __init__(self) -> None:
        self._instruments: dict[str, Instrument] = {}
        self._quotes: dict[str, Any] = {}

    def instrument(self, symbol: str) -> Instrument:
        found = self._instruments.get(symbol)
        if found is None:
            found = self._instruments[symbol] = instrument_for_trading(symbol)
        return found

    def quote(self, symbol: str) -> Any:
        if symbol not in self._quotes:
            self._quotes[symbol] = quote_latest(symbol=symbol)
        return self._quotes[symbol]


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


def _fingerprint(request: PlaceRequest, *, account_id: object, symbol: str) -> str:
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
            "account": str(account_id),
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


def prepare(
    *,
    user: User | None,
    account_id: object,
    request: PlaceRequest,
    read_account: bool = True,
    lookups: Lookups | None = None,
) -> Prepared:
    """Everything a placement (or its dry run) knows before it locks the account: raises
    the 400 / 403 errors; nothing is stored.

    read_account False: the account is not read here (`account` None; `account_id` must be
    `account_key`'s): the placement checks it with its locked read. `lookups`: a batch's
    instruments and quotes, read once for all its orders."""
    now = timezone.now()
    account = account_for_trading(user=user, account_id=account_id) if read_account else None
    lookups = lookups or Lookups()
    instrument = lookups.instrument(request.symbol)
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
    fingerprint = _fingerprint(
        request, account_id=account_id if account is None else account.pk, symbol=instrument.symbol
    )
    quote = lookups.quote(instrument.symbol)
    _check_market(draft, instrument, getattr(quote, "last", None))
    return Prepared(account, instrument, draft, quote, now, fingerprint, extras)
