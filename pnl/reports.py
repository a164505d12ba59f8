"""`GET /api/v1/pnl`: realized, unrealized, fees and net PnL, per symbol, per strategy tag
and per day, for one account or every account the caller may see (summed).

Meaning of the figures (days are UTC dates):
* Without `from`/`to`: lifetime. realized_pnl and fees are the positions' cumulative
  figures; unrealized_pnl is the open positions marked to the latest quotes.
* With `from` and/or `to` (inclusive dates): realized_pnl = matches whose closing fill
  falls in the range, fees = fees of the fills in the range. unrealized_pnl is the live
  figure when the range reaches today, else the level of the last snapshot on or before
  `to`.
* net_pnl = realized_pnl + unrealized_pnl - fees, everywhere (API.md).
* by_tag: realized PnL goes to the tag of the fill that OPENED the lot (the strategy that
  took the risk), unrealized to the tag that opened each open lot, fees to each fill's
  own tag. Untagged = "". Live views only carry unrealized per tag.
* daily: one row per day with activity or a snapshot (and today for a live view).
  realized_pnl and fees are that day's; unrealized_pnl is the level at the end of the day
  (snapshot; live for today; carried forward from the previous level on days without a
  snapshot); net_pnl is the day's PnL = realized + (unrealized - previous level) - fees,
  so the daily nets add up to the PnL of the range and draw the equity curve.
Symbols without a quote count no unrealized PnL (positions show null for them).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Max, Q, QuerySet, Sum

from accounts.models import User
from marketdata.selectors import quotes_latest
from oms_site.errors import ValidationFailed
from pnl.models import DailyPnl, Fill, Lot, Position, RealizedMatch
from pnl.selectors import scoped, visible_account_ids

ZERO = Decimal("0")


@dataclass
class Figures:
    realized_pnl: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    qty: Decimal = ZERO

    @property
    def net_pnl(self) -> Decimal:
        return self.realized_pnl + self.unrealized_pnl - self.fees


@dataclass
class PnlReport:
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    net_pnl: Decimal
    by_symbol: list[dict[str, Any]] = field(default_factory=list)
    by_tag: list[dict[str, Any]] = field(default_factory=list)
    daily: list[dict[str, Any]] = field(default_factory=list)


def _in_range(qs: QuerySet, date_from: date | None, date_to: date | None) -> QuerySet:
    if date_from is not None:
        qs = qs.filter(trade_date__gte=date_from)
    if date_to is not None:
        qs = qs.filter(trade_date__lte=date_to)
    return qs


def _grouped(qs: QuerySet, key: str, value: str) -> dict[Any, Decimal]:
    return {
        row[key]: Decimal(row["total"] or 0)
        for row in qs.values(key).annotate(total=Sum(value)).order_by()
    }


def _live_levels(positions: list[Position]) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """(account id, symbol) → (qty, unrealized) marked to the latest quotes."""
    quotes = quotes_latest(symbols=sorted({p.symbol for p in positions if p.qty}))
    levels = {}
    for position in positions:
        quote = quotes.get(position.symbol)
        mark = quote.last if quote is not None else None
        unrealized = position.unrealized_at(mark) if mark is not None else ZERO
        levels[(str(position.account_id), position.symbol)] = (position.qty, unrealized)
    return levels


def _snapshot_levels(
    account_ids: list[str] | None, on_or_before: date
) -> dict[tuple[str, str | None], tuple[Decimal, Decimal]]:
    """(account id, symbol or None for the total) → (qty, unrealized) of each account's
    latest snapshot on or before the date."""
    latest = (
        scoped(DailyPnl.objects.filter(date__lte=on_or_before), account_ids)
        .values("account_id")
        .annotate(last=Max("date"))
        .order_by()
    )
    pairs = Q()
    for row in latest:
        pairs |= Q(account_id=row["account_id"], date=row["last"])
    if not pairs:
        return {}
    return {
        (str(account), symbol): (qty, unrealized)
        for account, symbol, qty, unrealized in DailyPnl.objects.filter(pairs).values_list(
            "account_id", "symbol", "qty", "unrealized"
        )
    }


def _by_tag(
    *,
    account_ids: list[str] | None,
    date_from: date | None,
    date_to: date | None,
    live: bool,
) -> list[dict[str, Any]]:
    tags: dict[str, Figures] = defaultdict(Figures)
    matches = _in_range(scoped(RealizedMatch.objects.all(), account_ids), date_from, date_to)
    for tag, amount in _grouped(matches, "entry_fill__tag", "amount").items():
        tags[tag or ""].realized_pnl += amount
    fills = _in_range(scoped(Fill.objects.all(), account_ids), date_from, date_to)
    for tag, fee in _grouped(fills, "tag", "fee").items():
        tags[tag or ""].fees += fee
    if live:
        lots = list(
            scoped(Lot.objects.all(), account_ids).values_list(
                "opened_by__tag",
                "position__symbol",
                "side",
                "remaining_qty",
                "price",
                "position__multiplier",
            )
        )
        quotes = quotes_latest(symbols=sorted({lot[1] for lot in lots}))
        for tag, symbol, side, remaining, price, multiplier in lots:
            quote = quotes.get(symbol)
            if quote is None or quote.last is None:
                continue
            sign = 1 if side == "long" else -1
            tags[tag or ""].unrealized_pnl += (quote.last - price) * remaining * sign * multiplier
    return [
        {
            "tag": tag,
            "realized_pnl": figures.realized_pnl,
            "unrealized_pnl": figures.unrealized_pnl,
            "fees": figures.fees,
            "net_pnl": figures.net_pnl,
        }
        for tag, figures in sorted(tags.items())
    ]


def _daily(
    *,
    account_ids: list[str] | None,
    date_from: date | None,
    date_to: date | None,
    today: date,
    live: bool,
    live_by_account: dict[str, Decimal],
) -> list[dict[str, Any]]:
    matches = _in_range(scoped(RealizedMatch.objects.all(), account_ids), date_from, date_to)
    fills = _in_range(scoped(Fill.objects.all(), account_ids), date_from, date_to)
    realized = _grouped(matches, "trade_date", "amount")
    fees = _grouped(fills, "trade_date", "fee")
    snapshots: dict[str, dict[date, Decimal]] = defaultdict(dict)
    totals = scoped(DailyPnl.objects.filter(symbol__isnull=True), account_ids)
    if date_from is not None:
        totals = totals.filter(date__gte=date_from)
    if date_to is not None:
        totals = totals.filter(date__lte=date_to)
    for account, day, unrealized in totals.values_list("account_id", "date", "unrealized"):
        snapshots[str(account)][day] = unrealized
    base: dict[str, Decimal] = {}
    if date_from is not None:
        before = _snapshot_levels(account_ids, date_from - timedelta(days=1))
        base = {
            account: level for (account, symbol), (_, level) in before.items() if symbol is None
        }
    days = set(realized) | set(fees)
    for per_account in snapshots.values():
        days |= set(per_account)
    in_range = (date_from is None or date_from <= today) and (date_to is None or today <= date_to)
    if live and in_range and (days or any(live_by_account.values())):
        days.add(today)
    accounts = set(base) | set(snapshots) | (set(live_by_account) if live else set())
    levels = {account: base.get(account, ZERO) for account in accounts}
    previous_total = sum(levels.values(), ZERO)
    rows = []
    for day in sorted(days):
        for account in accounts:
            if live and day == today and account in live_by_account:
                levels[account] = live_by_account[account]
            elif day in snapshots.get(account, {}):
                levels[account] = snapshots[account][day]
        level = sum(levels.values(), ZERO)
        day_realized, day_fees = realized.get(day, ZERO), fees.get(day, ZERO)
        quiet = (
            day not in fees
            and day not in realized
            and not any(day in per_account for per_account in snapshots.values())
        )
        if quiet and not level and level == previous_total:
            continue  # today, nothing held and nothing traded: no row
        rows.append(
            {
                "date": day,
                "realized_pnl": day_realized,
                "unrealized_pnl": level,
                "fees": day_fees,
                "net_pnl": day_realized + (level - previous_total) - day_fees,
            }
        )
        previous_total = level
    return rows


def pnl_report(
    *,
    user: User,
    account_id: object = None,
    date_from: date | None = None,
    date_to: date | None = None,
    now: datetime | None = None,
) -> PnlReport:
    """The PnL of one account (NotFound if the user cannot see it) or of every account
    the user may see. See the module docstring for what each figure means."""
    if date_from is not None and date_to is not None and date_from > date_to:
        raise ValidationFailed("from: must not be after to.", fields={"from": ["After `to`."]})
    account_ids = visible_account_ids(user=user, account_id=account_id)
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    ranged = date_from is not None or date_to is not None
    live = date_to is None or date_to >= today

    positions = list(scoped(Position.objects.all(), account_ids).order_by("symbol"))
    symbols: dict[str, Figures] = defaultdict(Figures)
    live_by_account: dict[str, Decimal] = defaultdict(lambda: ZERO)
    if live:
        for (account, symbol), (qty, unrealized) in _live_levels(positions).items():
            symbols[symbol].qty += qty
            symbols[symbol].unrealized_pnl += unrealized
            live_by_account[account] += unrealized
    else:
        for (_, symbol), (qty, unrealized) in _snapshot_levels(account_ids, date_to).items():
            if symbol is not None:
                symbols[symbol].qty += qty
                symbols[symbol].unrealized_pnl += unrealized
    if not ranged:
        for position in positions:
            symbols[position.symbol].realized_pnl += position.realized
            symbols[position.symbol].fees += position.fees
    else:
        matches = _in_range(scoped(RealizedMatch.objects.all(), account_ids), date_from, date_to)
        for symbol, amount in _grouped(matches, "symbol", "amount").items():
            symbols[symbol].realized_pnl += amount
        fills = _in_range(scoped(Fill.objects.all(), account_ids), date_from, date_to)
        for symbol, fee in _grouped(fills, "symbol", "fee").items():
            symbols[symbol].fees += fee
        for symbol in [s for s, f in symbols.items() if not (f.qty or f.realized_pnl or f.fees)]:
            if not _in_range(
                scoped(Fill.objects.filter(symbol=symbol), account_ids), date_from, date_to
            ).exists():
                del symbols[symbol]  # no position and no trading in the range

    total = Figures()
    by_symbol = []
    for symbol, figures in sorted(symbols.items()):
        total.realized_pnl += figures.realized_pnl
        total.unrealized_pnl += figures.unrealized_pnl
        total.fees += figures.fees
        by_symbol.append(
            {
                "symbol": symbol,
                "qty": figures.qty,
                "realized_pnl": figures.realized_pnl,
                "unrealized_pnl": figures.unrealized_pnl,
                "fees": figures.fees,
                "net_pnl": figures.net_pnl,
            }
        )
    return PnlReport(
        realized_pnl=total.realized_pnl,
        unrealized_pnl=total.unrealized_pnl,
        fees=total.fees,
        net_pnl=total.net_pnl,
        by_symbol=by_symbol,
        by_tag=_by_tag(account_ids=account_ids, date_from=date_from, date_to=date_to, live=live),
        daily=_daily(
            account_ids=account_ids,
            date_from=date_from,
            date_to=date_to,
            today=today,
            live=live,
            live_by_account=dict(live_by_account),
        ),
    )
