"""Reads of the fill ledger, positions and lots.

`position_qty` and `realized_pnl_since` are what pre-trade risk (orders/core/risk.py) asks of
pnl; both read the rows `fill_record` maintains (one indexed read each).
Reports (`GET /api/v1/pnl`) live in pnl/reports.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum, Value

from accounts.models import TradingAccount, User
from accounts.selectors import account_get_for_user, account_list_for_user
from marketdata.selectors import normalize_symbol, quotes_latest
from marketdata.snapshots import QuoteSnapshot
from pnl.models import Fill, Lot, Position, RealizedMatch

ZERO = Decimal("0")


def utc_day_start(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)


def visible_account_ids(*, user: User, account_id: object = None) -> list[str] | None:
    """Account ids a read may cover: [the one asked for] (NotFound if the user may not see
    it), or None meaning "every account" for an admin, else the user's accounts."""
    if account_id:
        return [str(account_get_for_user(user=user, account_id=account_id).pk)]
    if user.is_oms_admin:
        return None
    return [str(pk) for pk in account_list_for_user(user=user).values_list("id", flat=True)]


def scoped(qs: QuerySet, account_ids: list[str] | None, field: str = "account_id") -> QuerySet:
    return qs if account_ids is None else qs.filter(**{f"{field}__in": account_ids})


# --- Fills -------------------------------------------------------------------------------


def fill_list(*, user: User, filters: dict[str, Any] | None = None) -> QuerySet[Fill]:
    """Fills of the accounts `user` may see, newest first.

    filters: account (id), symbol, order (order id); an account the user cannot see
    simply yields nothing (never leak existence).
    """
    filters = filters or {}
    qs = Fill.objects.all()
    if not user.is_oms_admin:
        qs = qs.filter(account__in=account_list_for_user(user=user).values("id"))
    if filters.get("account"):
        qs = qs.filter(account_id=filters["account"])
    if filters.get("symbol"):
        qs = qs.filter(symbol=str(filters["symbol"]).upper())
    if filters.get("order"):
        qs = qs.filter(order_id=filters["order"])
    return qs.order_by("-ts", "-created_at", "-id")


def fill_list_for_order(*, order_id: object) -> QuerySet[Fill]:
    return Fill.objects.filter(order_id=order_id).order_by("ts", "created_at", "id")


# --- What risk checks ask ----------------------------------------------------------------


def position_qty(*, account_id: object, symbol: str) -> Decimal:
    """Signed open quantity of (account, symbol): long > 0, short < 0, 0 without a position."""
    qty = (
        Position.objects.filter(account_id=account_id, symbol=symbol)
        .values_list("qty", flat=True)
        .first()
    )
    return qty if qty is not None else ZERO


def realized_pnl_since(*, account_id: object, since: datetime) -> Decimal:
    """Realized PnL (FIFO, fees excluded) of closing fills at or after `since`."""
    total = RealizedMatch.objects.filter(account_id=account_id, ts__gte=since).aggregate(
        total=Sum("amount", default=Value(ZERO))
    )["total"]
    return Decimal(total or 0)


# --- Positions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PositionView:
    """One position as the API shows it, marked to the latest quote (None without one)."""

    account_id: str
    account_name: str
    symbol: str
    qty: Decimal
    avg_entry_price: Decimal | None
    market_price: Decimal | None
    market_value: Decimal | None
    unrealized_pnl: Decimal | None
    realized_pnl: Decimal
    fees: Decimal
    multiplier: Decimal
    last_fill_at: datetime | None

    @property
    def net_pnl(self) -> Decimal:
        return self.realized_pnl + (self.unrealized_pnl or ZERO) - self.fees

    @property
    def is_flat(self) -> bool:
        return not self.qty

    @property
    def close_side(self) -> str | None:
        if self.qty > 0:
            return "sell"
        if self.qty < 0:
            return "buy"
        return None


def position_view(
    *, position: Position, quote: QuoteSnapshot | None = None, account_name: str = ""
) -> PositionView:
    if quote is None:
        quote = quotes_latest(symbols=[position.symbol]).get(position.symbol)
    mark = quote.last if quote is not None else None
    if mark is not None:
        market_value, unrealized = position.market_value_at(mark), position.unrealized_at(mark)
    elif not position.qty:
        market_value, unrealized = ZERO, ZERO
    else:
        market_value = unrealized = None
    return PositionView(
        account_id=str(position.account_id),
        account_name=account_name,
        symbol=position.symbol,
        qty=position.qty,
        avg_entry_price=position.avg_entry_price,
        market_price=mark,
        market_value=market_value,
        unrealized_pnl=unrealized,
        realized_pnl=position.realized,
        fees=position.fees,
        multiplier=position.multiplier,
        last_fill_at=position.last_fill_at,
    )


def position_rows(
    *, account_ids: list[str] | None, symbol: str | None = None, now: datetime | None = None
) -> QuerySet[Position]:
    """Open positions, and flat ones that traded today (UTC), of the accounts."""
    now = now or datetime.now(UTC)
    qs = scoped(Position.objects.all(), account_ids).filter(
        ~Q(qty=0) | Q(last_fill_at__gte=utc_day_start(now))
    )
    if symbol:
        qs = qs.filter(symbol=normalize_symbol(symbol))
    return qs.select_related("account").order_by("account__name", "account_id", "symbol")


def position_list(
    *,
    user: User,
    account_id: object = None,
    symbol: str | None = None,
    now: datetime | None = None,
) -> list[PositionView]:
    """Positions of the accounts `user` may see (API.md): open ones, and flat ones with a
    fill (hence realized PnL) today. An explicit account the user cannot see → NotFound."""
    account_ids = visible_account_ids(user=user, account_id=account_id)
    rows = list(position_rows(account_ids=account_ids, symbol=symbol, now=now))
    quotes = quotes_latest(symbols=sorted({row.symbol for row in rows}))
    return [
        position_view(position=row, quote=quotes.get(row.symbol), account_name=row.account.name)
        for row in rows
    ]


# --- The lot ledger of one position ------------------------------------------------------


@dataclass(frozen=True)
class LotLedger:
    account: TradingAccount
    symbol: str
    position: PositionView | None
    lots: list[Lot]
    matches: list[RealizedMatch]
    fills: list[Fill]


LEDGER_MAX_ROWS = 500


def lot_ledger(*, user: User, account_id: object, symbol: str) -> LotLedger:
    """Open lots (oldest first), the latest realized matches and fills of one position."""
    account = account_get_for_user(user=user, account_id=account_id)
    symbol = normalize_symbol(symbol)
    position = Position.objects.filter(account=account, symbol=symbol).first()
    if position is None:
        return LotLedger(
            account=account, symbol=symbol, position=None, lots=[], matches=[], fills=[]
        )
    lots = list(
        Lot.objects.filter(position=position).select_related("opened_by").order_by("opened_seq")
    )
    matches = list(
        RealizedMatch.objects.filter(position=position)
        .select_related("entry_fill", "exit_fill")
        .order_by("-id")[:LEDGER_MAX_ROWS]
    )
    fills = list(
        Fill.objects.filter(account=account, instrument_id=position.instrument_id).order_by(
            "-seq", "-ts"
        )[:LEDGER_MAX_ROWS]
    )
    return LotLedger(
        account=account,
        symbol=symbol,
        position=position_view(position=position, account_name=account.name),
        lots=lots,
        matches=matches,
        fills=fills,
    )
