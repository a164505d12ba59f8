"""Recompute positions, open lots and realized matches from the fills alone.

The fills are replayed through the same FIFO core in booking order (`Fill.seq`; fills
without one — booked before positions existed — first, by time), so for a ledger booked
by `fill_record` the result is identical to what is stored. `write=False` only reports
the differences (`manage.py rebuild_positions --check`); `write=True` replaces whatever
differs. Account cash is not touched: it is moved by booking only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import TradingAccount
from marketdata.models import Instrument
from oms_site.errors import NotFound
from oms_site.locks import lock_rows
from pnl.booking import avg_entry, utc_date
from pnl.fifo import Fill as CoreFill
from pnl.fifo import PositionState
from pnl.models import Fill, Lot, Position, RealizedMatch

ZERO = Decimal("0")
_AGGREGATES = ("qty", "open_cost", "avg_entry_price", "realized", "fees", "cash_flow")


@dataclass
class PositionDiff:
    symbol: str
    problems: list[str] = field(default_factory=list)


@dataclass
class RebuildResult:
    account_id: str
    positions_checked: int = 0
    diffs: list[PositionDiff] = field(default_factory=list)
    written: bool = False

    @property
    def identical(self) -> bool:
        return not self.diffs


@dataclass
class _Expected:
    multiplier: Decimal
    aggregates: dict[str, Any]
    fill_count: int
    last_fill_at: datetime | None
    lots: list[tuple]
    matches: list[tuple]
    seq_fixes: list[tuple[Any, int]]


def _replay(*, account_id: object, instrument_id: object, multiplier: Decimal) -> _Expected:
    rows = (
        Fill.objects.filter(account_id=account_id, instrument_id=instrument_id)
        .order_by(F("seq").asc(nulls_first=True), "ts", "created_at", "id")
        .values_list("id", "side", "qty", "price", "fee", "ts", "seq")
    )
    state = PositionState(multiplier=multiplier)
    apply = state.apply
    matches: list[tuple] = []
    seq_fixes: list[tuple[Any, int]] = []
    last_fill_at = None
    for index, (fill_id, side, qty, price, fee, ts, seq) in enumerate(rows.iterator(2000), 1):
        key = str(fill_id)
        if seq != index:
            seq_fixes.append((fill_id, index))
        for match in apply(CoreFill(key, side, qty, price, fee)):
            matches.append(
                (
                    str(match.entry_fill_id),
                    key,
                    match.qty,
                    match.entry_price,
                    match.exit_price,
                    match.realized,
                    match.lot_side,
                    ts,
                )
            )
        if last_fill_at is None or ts > last_fill_at:
            last_fill_at = ts
    open_lots = state.open_lots()
    opened_at = {
        str(pk): ts
        for pk, ts in Fill.objects.filter(pk__in=[lot.fill_id for lot in open_lots]).values_list(
            "id", "ts"
        )
    }
    lots = [
        (
            str(lot.fill_id),
            lot.side,
            lot.original_qty,
            lot.remaining_qty,
            lot.price,
            lot.opened_seq,
            opened_at[str(lot.fill_id)],
        )
        for lot in open_lots
    ]
    open_cost = sum((lot[3] * lot[4] for lot in lots), ZERO)
    return _Expected(
        multiplier=multiplier,
        aggregates={
            "qty": state.qty,
            "open_cost": open_cost,
            "avg_entry_price": avg_entry(open_cost, state.qty),
            "realized": state.realized,
            "fees": state.fees,
            "cash_flow": state.cash_flow,
        },
        fill_count=state.fill_count,
        last_fill_at=last_fill_at,
        lots=lots,
        matches=matches,
        seq_fixes=seq_fixes,
    )


def _stored(position: Position) -> tuple[list[tuple], list[tuple]]:
    lots = [
        (str(opened_by), side, original, remaining, price, seq, opened_at)
        for opened_by, side, original, remaining, price, seq, opened_at in Lot.objects.filter(
            position=position
        )
        .order_by("opened_seq")
        .values_list(
            "opened_by_id",
            "side",
            "original_qty",
            "remaining_qty",
            "price",
            "opened_seq",
            "opened_at",
        )
    ]
    rows = (
        RealizedMatch.objects.filter(position=position)
        .order_by("id")
        .values_list(
            "entry_fill_id",
            "exit_fill_id",
            "qty",
            "entry_price",
            "exit_price",
            "amount",
            "lot_side",
            "ts",
        )
    )
    matches = [(str(row[0]), str(row[1]), *row[2:]) for row in rows]
    return lots, matches


def _compare(position: Position | None, expected: _Expected | None) -> list[str]:
    if position is None:
        return ["position row missing"] if expected is not None else []
    if expected is None:
        return ["position row exists but the account has no fills of this instrument"]
    problems = []
    for name in _AGGREGATES:
        stored, rebuilt = getattr(position, name), expected.aggregates[name]
        if stored != rebuilt:
            problems.append(f"{name}: stored {stored}, rebuilt {rebuilt}")
    if position.fill_count != expected.fill_count:
        problems.append(f"fill_count: stored {position.fill_count}, rebuilt {expected.fill_count}")
    if position.last_fill_at != expected.last_fill_at:
        problems.append(
            f"last_fill_at: stored {position.last_fill_at}, rebuilt {expected.last_fill_at}"
        )
    lots, matches = _stored(position)
    if lots != expected.lots:
        problems.append(f"open lots: stored {len(lots)} rows, rebuilt {len(expected.lots)} differ")
    if matches != expected.matches:
        problems.append(
            f"realized matches: stored {len(matches)} rows, rebuilt {len(expected.matches)} differ"
        )
    if expected.seq_fixes:
        problems.append(f"fill sequence numbers: {len(expected.seq_fixes)} to assign")
    return problems


def _write(
    *,
    account_id: object,
    instrument: Instrument,
    position: Position | None,
    expected: _Expected | None,
) -> None:
    if position is not None:
        Lot.objects.filter(position=position).delete()
        RealizedMatch.objects.filter(position=position).delete()
    if expected is None:
        if position is not None:
            position.delete()
        return
    if expected.seq_fixes:
        ids = [fill_id for fill_id, _ in expected.seq_fixes]
        Fill.objects.filter(pk__in=ids).update(seq=None)  # free the numbers first (unique)
        for fill_id, seq in expected.seq_fixes:
            Fill.objects.filter(pk=fill_id).update(seq=seq)
    if position is None:
        position = Position(
            account_id=account_id,
            instrument=instrument,
            symbol=instrument.symbol,
            multiplier=expected.multiplier,
        )
    for name, value in expected.aggregates.items():
        setattr(position, name, value)
    position.fill_count = expected.fill_count
    position.last_fill_at = expected.last_fill_at
    position.updated_at = timezone.now()
    position.save()
    Lot.objects.bulk_create(
        [
            Lot(
                position=position,
                account_id=account_id,
                instrument=instrument,
                opened_by_id=fill_id,
                side=side,
                original_qty=original,
                remaining_qty=remaining,
                price=price,
                opened_seq=seq,
                opened_at=opened_at,
            )
            for fill_id, side, original, remaining, price, seq, opened_at in expected.lots
        ]
    )
    RealizedMatch.objects.bulk_create(
        [
            RealizedMatch(
                position=position,
                account_id=account_id,
                instrument=instrument,
                symbol=instrument.symbol,
                entry_fill_id=entry,
                exit_fill_id=exit_,
                qty=qty,
                entry_price=entry_price,
                exit_price=exit_price,
                amount=amount,
                lot_side=lot_side,
                ts=ts,
                trade_date=utc_date(ts),
            )
            for entry, exit_, qty, entry_price, exit_price, amount, lot_side, ts in expected.matches
        ],
        batch_size=1000,
    )


@transaction.atomic
def position_rebuild(
    *, account_id: object, instrument_id: object = None, write: bool = True
) -> RebuildResult:
    """Recompute the account's positions (or one instrument's) from its fills.

    Locks the account's position rows (by pk) first, as booking does, so no fill can be
    booked in between. Returns the differences found; with `write` they are repaired.
    """
    try:
        exists = TradingAccount.objects.filter(pk=account_id).exists()
    except (ValueError, DjangoValidationError):
        exists = False  # a malformed id is as unknown as a missing one
    if not exists:
        raise NotFound("Account not found.")
    positions_qs = Position.objects.filter(account_id=account_id)
    fills_qs = Fill.objects.filter(account_id=account_id)
    if instrument_id is not None:
        positions_qs = positions_qs.filter(instrument_id=instrument_id)
        fills_qs = fills_qs.filter(instrument_id=instrument_id)
    positions = {str(p.instrument_id): p for p in lock_rows(positions_qs)}
    traded = {str(pk) for pk in fills_qs.values_list("instrument_id", flat=True).distinct()}
    instruments = {
        str(row.pk): row for row in Instrument.objects.filter(pk__in=set(positions) | traded)
    }
    result = RebuildResult(account_id=str(account_id))
    for key in sorted(instruments, key=lambda k: instruments[k].symbol):
        instrument = instruments[key]
        position = positions.get(key)
        expected = None
        if key in traded:
            multiplier = position.multiplier if position is not None else instrument.multiplier
            expected = _replay(
                account_id=account_id, instrument_id=instrument.pk, multiplier=multiplier
            )
        result.positions_checked += 1
        problems = _compare(position, expected)
        if problems:
            result.diffs.append(PositionDiff(symbol=instrument.symbol, problems=problems))
            if write:
                _write(
                    account_id=account_id,
                    instrument=instrument,
                    position=position,
                    expected=expected,
                )
                result.written = True
    return result
