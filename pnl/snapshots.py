"""Daily PnL snapshots: the end-of-day figures of each account, per symbol and in total.

Taken by the beat job at 23:59 UTC (pnl/schedules.py) — every session of the built-in
venues (SIM is 24x7 on UTC days; NSE closes 10:00 UTC) has closed by then and no session
spans midnight UTC, so the latest quote is each instrument's closing price — and on
demand (`manage.py snapshot_pnl`, `POST /api/v1/pnl/snapshots`). Taking the snapshot of
a day again replaces it (idempotent).

Today's snapshot uses the positions as they stand and the latest quotes. A past day's is
rebuilt: each position is replayed through the FIFO core from its fills up to the end of
that day and marked to the close of the day's last 1-minute bar (a late beat run after
midnight, or a backfill, therefore records the day as it ended). Realized PnL and fees of
the day always come from the ledger (matches and fills of that UTC date).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import F, Sum

from accounts.models import TradingAccount
from marketdata.selectors import bar_list, quotes_latest
from oms_site.errors import NotFound, ValidationFailed
from oms_site.locks import lock_one_or_none
from pnl.booking import avg_entry
from pnl.fifo import Fill as CoreFill
from pnl.fifo import rebuild
from pnl.models import DailyPnl, Fill, Position, RealizedMatch

ZERO = Decimal("0")


@dataclass(frozen=True)
class SnapshotResult:
    date: date
    accounts: int
    rows: int


@dataclass(frozen=True)
class _Holding:
    """One position as of the snapshot's moment."""

    symbol: str
    instrument_id: object
    qty: Decimal
    avg_entry_price: Decimal | None
    mark: Decimal | None
    unrealized: Decimal | None  # None: no price to mark it with
    realized_total: Decimal
    fees_total: Decimal


def sums_by_symbol(qs, *, field: str) -> dict[str, Decimal]:
    return {
        row["symbol"]: Decimal(row["total"] or 0)
        for row in qs.values("symbol").annotate(total=Sum(field)).order_by()
    }


def previous_unrealized(*, account_id: object, before: date) -> dict[str | None, Decimal]:
    """Unrealized per symbol (None = total) of the account's latest snapshot before `before`."""
    last = (
        DailyPnl.objects.filter(account_id=account_id, date__lt=before)
        .order_by("-date")
        .values_list("date", flat=True)
        .first()
    )
    if last is None:
        return {}
    return dict(
        DailyPnl.objects.filter(account_id=account_id, date=last).values_list(
            "symbol", "unrealized"
        )
    )


def _holdings_now(account: TradingAccount) -> Iterator[_Holding]:
    positions = list(Position.objects.filter(account=account).order_by("symbol"))
    quotes = quotes_latest(symbols=[p.symbol for p in positions])
    for position in positions:
        quote = quotes.get(position.symbol)
        mark = quote.last if quote is not None else None
        yield _Holding(
            symbol=position.symbol,
            instrument_id=position.instrument_id,
            qty=position.qty,
            avg_entry_price=position.avg_entry_price,
            mark=mark,
            unrealized=position.unrealized_at(mark) if mark is not None else None,
            realized_total=position.realized,
            fees_total=position.fees,
        )


def _holdings_at(account: TradingAccount, end: datetime) -> Iterator[_Holding]:
    """Positions replayed from their fills booked before `end`, marked to the last bar."""
    positions = Position.objects.filter(account=account).select_related("instrument__exchange")
    for position in positions.order_by("symbol"):
        rows = list(
            Fill.objects.filter(account=account, instrument_id=position.instrument_id, ts__lt=end)
            .order_by(F("seq").asc(nulls_first=True), "ts", "created_at", "id")
            .values_list("id", "side", "qty", "price", "fee")
        )
        if not rows:
            continue
        state = rebuild(
            (CoreFill(str(pk), side, qty, price, fee) for pk, side, qty, price, fee in rows),
            multiplier=position.multiplier,
        )
        bars = bar_list(
            instrument=position.instrument, end=end - timedelta(microseconds=1), limit=1
        )
        mark = bars[-1].close if bars else None
        open_cost = sum((lot.remaining_qty * lot.price for lot in state.open_lots()), ZERO)
        yield _Holding(
            symbol=position.symbol,
            instrument_id=position.instrument_id,
            qty=state.qty,
            avg_entry_price=avg_entry(open_cost, state.qty),
            mark=mark,
            unrealized=state.unrealized(mark) if mark is not None else None,
            realized_total=state.realized,
            fees_total=state.fees,
        )


def _snapshot_account(*, account: TradingAccount, day: date, today: date) -> int:
    if day == today:
        holdings = list(_holdings_now(account))
    else:
        end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)
        holdings = list(_holdings_at(account, end))
    realized = sums_by_symbol(
        RealizedMatch.objects.filter(account=account, trade_date=day), field="amount"
    )
    fees = sums_by_symbol(Fill.objects.filter(account=account, trade_date=day), field="fee")
    previous = previous_unrealized(account_id=account.pk, before=day)
    rows: list[DailyPnl] = []
    total: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for holding in holdings:
        symbol = holding.symbol
        if holding.unrealized is not None:
            unrealized = holding.unrealized
        else:  # no price: carry the last known level rather than invent one
            unrealized = previous.get(symbol, ZERO) if holding.qty else ZERO
        change = unrealized - previous.get(symbol, ZERO)
        day_realized, day_fees = realized.get(symbol, ZERO), fees.get(symbol, ZERO)
        if not (holding.qty or day_realized or day_fees or change or symbol in previous):
            continue  # flat and quiet: nothing to report for this symbol
        row = DailyPnl(
            account=account,
            date=day,
            symbol=symbol,
            instrument_id=holding.instrument_id,
            qty=holding.qty,
            mark_price=holding.mark,
            avg_entry_price=holding.avg_entry_price,
            realized=day_realized,
            unrealized=unrealized,
            unrealized_change=change,
            fees=day_fees,
            net=day_realized + change - day_fees,
            realized_total=holding.realized_total,
            fees_total=holding.fees_total,
        )
        rows.append(row)
        for name in ("realized", "unrealized", "unrealized_change", "fees", "net"):
            total[name] += getattr(row, name)
        total["realized_total"] += holding.realized_total
        total["fees_total"] += holding.fees_total
    if not rows and not previous:
        DailyPnl.objects.filter(account=account, date=day).delete()
        return 0  # nothing held or traded by then: no snapshot for this account
    rows.append(DailyPnl(account=account, date=day, symbol=None, **total))
    DailyPnl.objects.filter(account=account, date=day).delete()
    DailyPnl.objects.bulk_create(rows)
    return len(rows)


def pnl_snapshot_take(
    *, day: date | None = None, account_id: object = None, now: datetime | None = None
) -> SnapshotResult:
    """Snapshot `day` (default: today, UTC) for one account or every account that has
    positions. One transaction per account, with the account row locked while its
    snapshot is replaced, so two runs of the same day never interleave and a long run
    never holds every account at once. A future day is refused."""
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    day = day or today
    if day > today:
        raise ValidationFailed(
            "date: cannot snapshot a future day.", fields={"date": ["In the future."]}
        )
    accounts = TradingAccount.objects.all()
    if account_id:
        accounts = accounts.filter(pk=account_id)
        try:
            exists = accounts.exists()
        except (ValueError, DjangoValidationError):
            exists = False  # a malformed id is as unknown as a missing one
        if not exists:
            raise NotFound("Account not found.")
    else:
        accounts = accounts.filter(pk__in=Position.objects.values("account_id"))
    count = rows = 0
    for pk in accounts.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            account = lock_one_or_none(TradingAccount.objects.all(), pk=pk)
            if account is None:
                continue  # deleted meanwhile
            written = _snapshot_account(account=account, day=day, today=today)
            rows += written
            count += 1 if written else 0
    return SnapshotResult(date=day, accounts=count, rows=rows)
