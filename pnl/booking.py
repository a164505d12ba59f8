"""Booking one fill into its position: the FIFO core wrapped in row locks.

Lock order of the fill path:
    orders.Order (the caller) -> accounts.TradingAccount (the caller) -> pnl.Position
The report service locks the account row before calling in, because the fill's
foreign-key inserts would otherwise take a shared lock on it that the cash UPDATE then has
to upgrade — a deadlock against a concurrent order placement waiting on the same row.
The position row is locked with SELECT ... FOR UPDATE.

Cost per fill is independent of the position's history: one locked read of the position,
the oldest open lots only when the fill closes some (a small look-ahead, all of them only
when the fill is at least the whole position), and a constant number of writes, all
through the raw statements of pnl/ledger_sql.py. All arithmetic runs in the core's exact
decimal context. The `position.updated` push is built and sent after the commit.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal, localcontext

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from marketdata.models import Instrument
from pnl import ledger_sql, registry
from pnl.fifo import BUY, LotRecord, PositionState
from pnl.fifo import Fill as CoreFill
from pnl.fifo_types import AVG_PRICE_CONTEXT, EXACT_CONTEXT
from pnl.models import Fill, Position
from pnl.selectors import position_view
from pnl.serializers import position_payload

logger = logging.getLogger(__name__)

ZERO = Decimal("0")
PRICE_QUANTUM = Decimal("1e-8")
# A closing fill smaller than the position reads this many of the oldest lots first, and
# all of them only if those do not cover it.
LOT_LOOKAHEAD = 8
FILL_FIELDS = Fill._meta.concrete_fields
POSITIONS_CHANNEL = "positions"


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


def _position_locked(cursor, sql, *, account_id: object, instrument_id: object, symbol: str):
    """The position row, locked; created (with the instrument's multiplier) on first use."""
    row = sql.position_lock(cursor, account_id=account_id, instrument_id=instrument_id)
    if row is not None:
        return row
    multiplier = (
        Instrument.objects.filter(pk=instrument_id).values_list("multiplier", flat=True).first()
    )
    try:
        with transaction.atomic():
            Position.objects.create(
                account_id=account_id,
                instrument_id=instrument_id,
                symbol=symbol,
                multiplier=multiplier or Decimal("1"),
            )
    except IntegrityError:
        pass  # another transaction created it first; its insert committed before ours failed
    return sql.position_lock(cursor, account_id=account_id, instrument_id=instrument_id)


def _lots_to_close(
    cursor, sql: ledger_sql.Statements, *, position_id: int, qty: Decimal
) -> list[ledger_sql.LotRow]:
    """The oldest open lots a closing fill of `qty` consumes: a few first, all of them if
    those do not cover it (then the fill may be a flip that closes every lot)."""
    lots = sql.lots_oldest(cursor, position_id=position_id, limit=LOT_LOOKAHEAD)
    if len(lots) < LOT_LOOKAHEAD:
        return lots  # that is every open lot
    with localcontext(EXACT_CONTEXT):
        covered = sum((lot.remaining_qty for lot in lots), ZERO)
    if covered < qty:
        return sql.lots_oldest(cursor, position_id=position_id, limit=None)
    return lots


def fill_book(
    *,
    order_id: object,
    account_id: object,
    instrument_id: object,
    symbol: str,
    side: str,
    qty: Decimal,
    price: Decimal,
    fee: Decimal,
    liquidity: str | None,
    ts: datetime,
    report_id: str,
    trade_id: str,
    tag: str,
) -> Fill:
    """Store the fill and apply it to its locked position (lots, matches, figures) and to
    the account's cash. Must run inside a transaction; inputs are validated by the caller."""
    with ledger_sql.cursor() as cursor:
        sql = ledger_sql.statements()
        row = _position_locked(
            cursor, sql, account_id=account_id, instrument_id=instrument_id, symbol=symbol
        )
        fill_id = time_ordered_uuid()
        key = str(fill_id)
        now = timezone.now()
        trade_date = utc_date(ts)
        seq = row.fill_count + 1
        sql.fill_insert(
            cursor,
            [
                fill_id,
                order_id,
                account_id,
                instrument_id,
                symbol,
                side,
                qty,
                price,
                fee,
                liquidity,
                ts,
                report_id,
                trade_id,
                tag,
                seq,
                trade_date,
                now,
            ],
        )

        is_buy = side == BUY
        old_qty = row.qty
        closing = (old_qty > 0 and not is_buy) or (old_qty < 0 and is_buy)
        lots = _lots_to_close(cursor, sql, position_id=row.id, qty=qty) if closing else []
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
        if closing and qty >= abs(old_qty) and state.qty != old_qty:
            # Derived rows drifted from the ledger; the fill still books (the ledger is the
            # truth) and `rebuild_positions --check` shows and repairs the drift.
            logger.error("Position %s: lots sum to %s, the row says %s", row.id, state.qty, old_qty)
        old_cash_flow = state.cash_flow
        matches = state.apply(CoreFill(key, side, qty, price, fee))

        after = {record.fill_id: record for record in state.open_lots()}
        gone = [lot.id for lot in lots if lot.opened_by_id not in after]
        if gone:
            sql.lots_delete(cursor, gone)
        for lot in lots:
            record = after.get(lot.opened_by_id)
            if record is not None and record.remaining_qty != lot.remaining_qty:
                sql.lot_set_remaining(cursor, lot_id=lot.id, remaining=record.remaining_qty)
        opened = after.get(key)
        if opened is not None:
            sql.lot_insert(
                cursor,
                [
                    row.id,
                    account_id,
                    instrument_id,
                    fill_id,
                    opened.side,
                    opened.original_qty,
                    opened.remaining_qty,
                    price,
                    opened.opened_seq,
                    ts,
                ],
            )
        sql.matches_insert(
            cursor,
            [
                [
                    row.id,
                    account_id,
                    instrument_id,
                    symbol,
                    match.entry_fill_id,
                    fill_id,
                    match.qty,
                    match.entry_price,
                    match.exit_price,
                    match.realized,
                    match.lot_side,
                    ts,
                    trade_date,
                ]
                for match in matches
            ],
        )

        with localcontext(EXACT_CONTEXT):
            open_cost = row.open_cost
            for match in matches:
                open_cost -= match.qty * match.entry_price
            if opened is not None:
                open_cost += opened.remaining_qty * price
            new_qty = old_qty + qty if is_buy else old_qty - qty
            if not new_qty:
                open_cost = ZERO
            cash_delta = state.cash_flow - old_cash_flow
        avg = avg_entry(open_cost, new_qty)
        sql.position_save(
            cursor,
            position_id=row.id,
            values=[
                new_qty,
                open_cost,
                avg,
                state.realized,
                state.fees,
                state.cash_flow,
                state.fill_count,
                now,
            ],
            fill_ts=ts,
        )
        if cash_delta:
            sql.account_add_cash(cursor, account_id=account_id, delta=cash_delta)

        if registry.position_publisher() is not None:
            position_publish(
                Position(
                    id=row.id,
                    account_id=account_id,
                    instrument_id=instrument_id,
                    symbol=symbol,
                    multiplier=row.multiplier,
                    qty=new_qty,
                    open_cost=open_cost,
                    avg_entry_price=avg,
                    realized=state.realized,
                    fees=state.fees,
                    cash_flow=state.cash_flow,
                    fill_count=state.fill_count,
                    updated_at=now,
                )
            )
        values = {
            "id": fill_id, "order_id": order_id, "account_id": account_id,
            "instrument_id": instrument_id, "symbol": symbol, "side": side, "qty": qty,
            "price": price, "fee": fee, "liquidity": liquidity, "ts": ts,
            "report_id": report_id, "trade_id": trade_id, "tag": tag, "seq": seq,
            "trade_date": trade_date, "created_at": now,
        }  # fmt: skip
        # Positional construction, as the ORM does for rows it loads: a saved instance.
        fill = Fill.from_db(connection.alias, None, [values[f.attname] for f in FILL_FIELDS])
        return fill


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
