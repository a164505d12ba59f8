"""Booking fills into their positions: the FIFO core wrapped in row locks.

Lock order of the fill path:
    orders.Order (the caller) -> accounts.TradingAccount -> pnl.Position
each kind in primary-key order. The report service locks the account row before calling
in (`fills_book(lock_accounts=True)` locks them itself), because the fill's foreign-key
inserts would otherwise take a shared lock on it that the cash UPDATE then has to
upgrade — a deadlock against a concurrent order placement waiting on the same row.
Position rows are locked with SELECT ... FOR UPDATE: one by its key, several by id in
one ordered statement.

One booking (one fill, or a burst of them) costs, per position it touches, one locked
read, the oldest open lots only when its fills close some (a small look-ahead covering
all of the burst's closing quantity; every lot only when that exceeds the look-ahead), and
a constant number of grouped writes: one multi-row INSERT each for fills, lots and
matches, at most one lot DELETE and one lot UPDATE, one position UPDATE, one cash UPDATE
per account (pnl/ledger_sql.py; one round trip on MariaDB). Lots a burst opens and closes
again never reach the table. Cost is independent of the position's history. All
arithmetic runs in the core's exact decimal context. One `position.updated` push per
position and booking is built and sent after the commit.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, localcontext
from typing import Any

from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction
from django.utils import timezone

from marketdata.models import Instrument
from pnl import ledger_sql, registry
from pnl.fifo import BUY, SELL, LotRecord, PositionState
from pnl.fifo import Fill as CoreFill
from pnl.fifo_types import AVG_PRICE_CONTEXT, EXACT_CONTEXT
from pnl.models import Fill, Position
from pnl.selectors import position_view
from pnl.serializers import position_payload

logger = logging.getLogger(__name__)

ZERO = Decimal("0")
PRICE_QUANTUM = Decimal("1e-8")
# Closing fills smaller than the position read this many of the oldest lots first (eight
# times as many, and so on, while those do not cover them).
LOT_LOOKAHEAD = 8
FILL_FIELDS = Fill._meta.concrete_fields
# Where each model field (the order Fill.from_db takes) sits in a written fill row.
_FILL_ORDER = [ledger_sql.FILL_WRITE.index(f.name) for f in FILL_FIELDS]
POSITIONS_CHANNEL = "positions"
SIDES = (BUY, SELL)


def utc_date(ts: datetime) -> date:
    return ts.astimezone(UTC).date()


def to_decimal(value: object, *, name: str) -> Decimal:
    """Decimals as given; ints and strings converted; floats refused (they have already
    lost the paisa)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool | float):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    if isinstance(value, int | str):
        return Decimal(value)
    raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")


def time_ordered_uuid() -> uuid.UUID:
    """A version-7 style UUID (48-bit Unix milliseconds, then random bits): fills get ids
    that sort by creation, so their primary-key and foreign-key indexes grow at the end
    instead of dirtying a random page per insert."""
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value)


def avg_entry(open_cost: Decimal, qty: Decimal) -> Decimal | None:
    """Quantity-weighted entry of the open lots, to the price precision (8 dp)."""
    if not qty:
        return None
    ratio = AVG_PRICE_CONTEXT.divide(open_cost, abs(qty))
    return ratio.quantize(PRICE_QUANTUM, context=AVG_PRICE_CONTEXT)


@dataclass(slots=True, kw_only=True)
class FillInput:
    """One execution to book (the keyword arguments of `pnl.services.fill_record`).
    Validated and normalised on construction: amounts must be Decimals (ints and strings
    are converted, floats refused), `ts` time-zone aware."""

    order_id: object
    account_id: object
    instrument_id: object
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    fee: Decimal = ZERO
    liquidity: str | None = None
    ts: datetime
    report_id: str
    trade_id: str = ""
    tag: str = ""

    def __post_init__(self) -> None:
        self.qty = qty = to_decimal(self.qty, name="qty")
        self.price = price = to_decimal(self.price, name="price")
        self.fee = fee = to_decimal(self.fee, name="fee")
        if qty <= 0:
            raise ValueError(f"fill qty must be positive, got {qty}")
        if price < 0:
            raise ValueError(f"fill price must not be negative, got {price}")
        if fee < 0:
            raise ValueError(f"fill fee must not be negative, got {fee}")
        if self.side not in SIDES:
            raise ValueError(f"fill side must be buy or sell, got {self.side!r}")
        if self.ts.tzinfo is None:
            raise ValueError("fill ts must be time-zone aware")
        self.tag = self.tag or ""


@dataclass(slots=True)
class _Group:
    """The fills of one booking that go to one position (in booking order)."""

    key: tuple[Any, Any]
    first: FillInput
    indexes: list[int] = field(default_factory=list)
    row: ledger_sql.PositionRow | None = None


@dataclass(slots=True)
class _Rows:
    """What one booking writes, collected over its positions."""

    fills: list[list[Any]] = field(default_factory=list)
    gone: list[int] = field(default_factory=list)
    remaining: list[tuple[int, Decimal]] = field(default_factory=list)
    lots: list[list[Any]] = field(default_factory=list)
    matches: list[list[Any]] = field(default_factory=list)
    cash: dict[Any, Decimal] = field(default_factory=dict)
    # (group, figures per ledger_sql.POSITION_WRITE, last fill ts) per position booked
    positions: list[tuple[_Group, list[Any], datetime]] = field(default_factory=list)


def fills_book(fills: Sequence[FillInput], *, lock_accounts: bool) -> list[Fill]:
    """Store the fills and apply them, in order, to their locked positions (lots, matches,
    figures) and to their accounts' cash; return the Fill rows in input order. Must run
    inside a transaction. `lock_accounts`: lock the accounts first (pk order) — callers
    that already hold them (the report service) pass False."""
    if not fills:
        return []
    sql = ledger_sql.statements()
    groups: dict[tuple[Any, Any], _Group] = {}
    for index, fill in enumerate(fills):
        key = sql.position_key(account_id=fill.account_id, instrument_id=fill.instrument_id)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(key=key, first=fill)
        group.indexes.append(index)
    now = timezone.now()
    booked: list[Fill] = [None] * len(fills)  # type: ignore[list-item]
    rows = _Rows()
    with ledger_sql.cursor() as cursor:
        if lock_accounts:
            sql.accounts_lock(cursor, account_ids=[key[0] for key in groups])
        _positions_locked(cursor, sql, list(groups.values()))
        for group in sorted(groups.values(), key=lambda g: g.row.id):
            _book_position(cursor, sql, group, fills, now=now, rows=rows, booked=booked)
        writes = ledger_sql.Writes()
        sql.fills_insert(writes, rows.fills)
        sql.lots_delete(writes, rows.gone)
        for lot_id, remaining in rows.remaining:
            sql.lot_set_remaining(writes, lot_id=lot_id, remaining=remaining)
        sql.lots_insert(writes, rows.lots)
        sql.matches_insert(writes, rows.matches)
        for group, figures, last_ts in rows.positions:
            sql.position_save(writes, position_id=group.row.id, values=figures, fill_ts=last_ts)
        for account_key in sorted(rows.cash):
            if rows.cash[account_key]:
                sql.account_add_cash(writes, account_id=account_key, delta=rows.cash[account_key])
        sql.flush(cursor, writes)
    if registry.position_publisher() is not None:
        for group, figures, last_ts in rows.positions:
            first, row = group.first, group.row
            position_publish(
                Position(
                    id=row.id,
                    account_id=first.account_id,
                    instrument_id=first.instrument_id,
                    symbol=first.symbol,
                    multiplier=row.multiplier,
                    last_fill_at=last_ts,
                    **dict(zip(ledger_sql.POSITION_WRITE, figures, strict=True)),
                )
            )
    return booked


def _positions_locked(cursor, sql: ledger_sql.Statements, groups: list[_Group]) -> None:
    """Set each group's position row, locked (created with the instrument's multiplier on
    first use). One position: locked by its key; several: the existing ones' ids read
    first, then locked in one statement in primary-key order, then the ones this booking
    creates (the newest rows) one by one."""
    existing = (
        sql.positions_find(cursor, keys=[group.key for group in groups]) if len(groups) > 1 else {}
    )
    if existing:
        locked = sql.positions_lock(cursor, ids=sorted(existing.values()))
        for group in groups:
            pk = existing.get(group.key)
            group.row = None if pk is None else locked.get(pk)
    for group in groups:
        if group.row is None:
            fill = group.first
            group.row = sql.position_lock(
                cursor, account_id=fill.account_id, instrument_id=fill.instrument_id
            )
            if group.row is None:
                _position_create(fill)
                group.row = sql.position_lock(
                    cursor, account_id=fill.account_id, instrument_id=fill.instrument_id
                )


def _position_create(fill: FillInput) -> None:
    """The position row with the instrument's multiplier (read once per position's life:
    the row keeps it). A concurrent creator winning the race is fine."""
    multiplier = (
        Instrument.objects.filter(pk=fill.instrument_id)
        .values_list("multiplier", flat=True)
        .first()
    )
    try:
        with transaction.atomic():
            Position.objects.create(
                account_id=fill.account_id,
                instrument_id=fill.instrument_id,
                symbol=fill.symbol,
                multiplier=multiplier or Decimal("1"),
            )
    except IntegrityError:
        pass  # another transaction created it first; its insert committed before ours failed


def _lots_to_close(
    cursor, sql: ledger_sql.Statements, *, position_id: int, qty: Decimal
) -> tuple[list[ledger_sql.LotRow], bool]:
    """The oldest open lots that closing fills totalling `qty` may consume: a few first,
    then eight times as many while those do not cover it (a flip reads every lot). Second:
    whether that is every open lot."""
    limit = LOT_LOOKAHEAD
    while True:
        lots = sql.lots_oldest(cursor, position_id=position_id, limit=limit)
        if len(lots) < limit:
            return lots, True
        with localcontext(EXACT_CONTEXT):
            covered = sum((lot.remaining_qty for lot in lots), ZERO)
        if covered >= qty:
            return lots, False
        limit *= 8


def _book_position(
    cursor,
    sql: ledger_sql.Statements,
    group: _Group,
    fills: Sequence[FillInput],
    *,
    now: datetime,
    rows: _Rows,
    booked: list[Fill],
) -> None:
    """Apply the group's fills to its position in memory and collect the rows to write.

    Only the open lots the group's closing fills can reach are loaded: they close lots of
    the position's current side only, by at most their summed quantity, so the lots past
    those (never loaded) stay untouched and the in-memory FIFO order is the true one."""
    row = group.row
    old_qty = row.qty
    closing_side = SELL if old_qty > 0 else BUY
    with localcontext(EXACT_CONTEXT):
        closing_qty = sum(
            (fills[i].qty for i in group.indexes if fills[i].side == closing_side), ZERO
        )
    lots, complete = (
        _lots_to_close(cursor, sql, position_id=row.id, qty=closing_qty)
        if old_qty and closing_qty
        else ([], not old_qty)
    )
    lot_side = "long" if old_qty > 0 else "short"
    state = PositionState.restore(
        lots=[
            LotRecord(
                lot.opened_by_id,
                lot_side,
                lot.original_qty,
                lot.remaining_qty,
                lot.price,
                lot.opened_seq,
            )
            for lot in lots
        ],
        realized=row.realized,
        fees=row.fees,
        cash_flow=row.cash_flow,
        fill_count=row.fill_count,
        multiplier=row.multiplier,
    )
    if complete and state.qty != old_qty:
        # Derived rows drifted from the ledger; the fills still book (the ledger is the
        # truth) and `rebuild_positions --check` shows and repairs the drift.
        logger.error("Position %s: lots sum to %s, the row says %s", row.id, state.qty, old_qty)
    old_cash_flow = state.cash_flow
    first = group.first
    account_id, instrument_id, symbol = first.account_id, first.instrument_id, first.symbol
    position_id = row.id
    # Open quantity left per lot in play (by opening fill id), moved by the matches; the
    # lots this booking opens, with what their rows need.
    left = {lot.opened_by_id: lot.remaining_qty for lot in lots}
    opened: list[tuple[str, uuid.UUID, FillInput, Decimal, int]] = []
    open_cost, qty_now, last_ts = row.open_cost, old_qty, None
    apply = state.apply
    with localcontext(EXACT_CONTEXT):
        for index in group.indexes:
            fill = fills[index]
            fill_id = time_ordered_uuid()
            key = str(fill_id)
            ts, qty, price = fill.ts, fill.qty, fill.price
            seq = state.fill_count + 1
            trade_date = utc_date(ts)
            values = [
                fill_id, fill.order_id, account_id, instrument_id, symbol, fill.side, qty,
                price, fill.fee, fill.liquidity, ts, fill.report_id, fill.trade_id, fill.tag,
                seq, trade_date, now,
            ]  # fmt: skip
            rows.fills.append(values)
            # Positional construction, as the ORM does for rows it loads: a saved instance.
            booked[index] = Fill.from_db(DEFAULT_DB_ALIAS, None, [values[i] for i in _FILL_ORDER])
            matched = ZERO
            for match in apply(CoreFill(key, fill.side, qty, price, fill.fee)):
                open_cost -= match.qty * match.entry_price
                matched += match.qty
                left[match.entry_fill_id] -= match.qty
                match_row = [
                    position_id, account_id, instrument_id, symbol, match.entry_fill_id,
                    fill_id, match.qty, match.entry_price, match.exit_price, match.realized,
                    match.lot_side, ts, trade_date,
                ]  # fmt: skip
                rows.matches.append(match_row)
            if matched != qty:  # the rest opens a lot
                left[key] = qty - matched
                open_cost += left[key] * price
                opened.append((key, fill_id, fill, left[key], seq))
            qty_now = qty_now + qty if fill.side == BUY else qty_now - qty
            if not qty_now:
                open_cost = ZERO
            if last_ts is None or ts > last_ts:
                last_ts = ts

    for lot in lots:
        remaining = left[lot.opened_by_id]
        if not remaining:
            rows.gone.append(lot.id)
        elif remaining != lot.remaining_qty:
            rows.remaining.append((lot.id, remaining))
    for key, fill_id, fill, original, seq in opened:
        if left[key]:  # opened by this booking and still open
            side = "long" if fill.side == BUY else "short"
            lot_row = [
                position_id, account_id, instrument_id, fill_id, side, original, left[key],
                fill.price, seq, fill.ts,
            ]  # fmt: skip
            rows.lots.append(lot_row)
    with localcontext(EXACT_CONTEXT):
        account_key = group.key[0]
        rows.cash[account_key] = rows.cash.get(account_key, ZERO) + (
            state.cash_flow - old_cash_flow
        )
    figures = [
        qty_now, open_cost, avg_entry(open_cost, qty_now), state.realized, state.fees,
        state.cash_flow, state.fill_count, now,
    ]  # fmt: skip
    rows.positions.append((group, figures, last_ts))


def position_publish(position: Position) -> None:
    """Push `position.updated` (the REST shape) on the `positions` channel once the
    transaction commits. Built after the commit (the row locks are released by then); a
    failing push is logged, never undoes the booking."""
    publisher = registry.position_publisher()
    if publisher is None:
        return

    def push() -> None:
        publisher(
            channel=POSITIONS_CHANNEL,
            event="position.updated",
            data=position_payload(position_view(position=position)),
            account_id=position.account_id,
        )

    transaction.on_commit(push, robust=True)
