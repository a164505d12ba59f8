"""Raw SQL for the fill-booking hot path (pnl/booking.py): the locked position reads, the
fill, lot and match writes, the position update and the account's cash.

Every fill of every order goes through here, inside the caller's transaction; the ORM
costs several times more per statement than the database itself on this path (the same
trade-off as marketdata/quote_store.py). Values are always bound parameters converted the
way the model fields convert them, identifiers come from model metadata, and values read
back are converted exactly as the ORM converts them, so the rows written here are
indistinguishable from ORM rows (the rebuild compares them). Statements are built once
per database vendor. Dialects: SQLite, MySQL/MariaDB, PostgreSQL.

Writes are collected in a `Writes` (multi-row INSERTs, one per table and booking) and sent
by `Statements.flush` after the FIFO arithmetic: on SQLite with `executemany`, on MariaDB
as one anonymous compound statement (`BEGIN NOT ATOMIC ...; END`, one round trip for all
of a booking's writes; the server runs them in order and stops at the first error, which
the caller's transaction then rolls back), elsewhere one statement each.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, Model

from accounts.models import TradingAccount
from pnl.ledger_values import preparer, read_decimal, same
from pnl.models import Fill, Lot, Position, RealizedMatch

_POSITION_READ = (
    "id", "qty", "open_cost", "realized", "fees", "cash_flow", "fill_count", "multiplier",
)  # fmt: skip
_LOT_READ = ("id", "opened_by", "side", "original_qty", "remaining_qty", "price", "opened_seq")
FILL_WRITE = (
    "id", "order_id", "account", "instrument", "symbol", "side", "qty", "price", "fee",
    "liquidity", "ts", "report_id", "trade_id", "tag", "seq", "trade_date", "created_at",
)  # fmt: skip
_LOT_WRITE = (
    "position", "account", "instrument", "opened_by", "side", "original_qty", "remaining_qty",
    "price", "opened_seq", "opened_at",
)  # fmt: skip
_MATCH_WRITE = (
    "position", "account", "instrument", "symbol", "entry_fill", "exit_fill", "qty",
    "entry_price", "exit_price", "amount", "lot_side", "ts", "trade_date",
)  # fmt: skip
POSITION_WRITE = (
    "qty", "open_cost", "avg_entry_price", "realized", "fees", "cash_flow", "fill_count",
    "updated_at",
)  # fmt: skip


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def _fields(model: type[Model], names: Sequence[str]) -> list[Field]:
    return [model._meta.get_field(name) for name in names]


def _columns(fields: Sequence[Field]) -> str:
    return ", ".join(_qn(field.column) for field in fields)


@dataclass(slots=True)
class PositionRow:
    id: int
    qty: Decimal
    open_cost: Decimal
    realized: Decimal
    fees: Decimal
    cash_flow: Decimal
    fill_count: int
    multiplier: Decimal


@dataclass(slots=True)
class LotRow:
    id: int
    opened_by_id: str
    original_qty: Decimal
    remaining_qty: Decimal
    price: Decimal
    opened_seq: int


# Parameters per compound statement on MariaDB (a booking of ~800 fills); larger bookings
# are sent in several.
BLOCK_PARAMS = 20_000
# Rows per multi-row INSERT (well within every driver's parameter limit).
INSERT_ROWS = 500


class Writes:
    """The write statements of one booking, in order: (sql, params, executemany?)."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[tuple[str, list[Any], bool]] = []

    def add(self, sql: str, params: list[Any], *, many: bool = False) -> None:
        self.items.append((sql, params, many))


class _Insert:
    """A table's INSERT of the given fields, for one row or many."""

    def __init__(self, model: type[Model], fields: Sequence[Field], preps: Sequence[Callable]):
        self.width = len(fields)
        self.converts = [(index, prep) for index, prep in enumerate(preps) if prep is not same]
        self.head = f"INSERT INTO {_qn(model._meta.db_table)} ({_columns(fields)}) VALUES "  # noqa: S608
        self.row = "(" + ", ".join(["%s"] * len(fields)) + ")"

    def use_mark(self, mark: str) -> None:
        self.row = self.row.replace("%s", mark)

    def add(self, writes: Writes, rows: Sequence[Sequence[Any]], *, many: bool) -> None:
        """The rows as one executemany (SQLite) or multi-row INSERTs of INSERT_ROWS each."""
        if not rows:
            return
        converts, width = self.converts, self.width
        prepped = []
        for values in rows:
            if len(values) != width:
                raise ValueError(f"{width} values expected, got {len(values)}")
            row = list(values)
            for index, prep in converts:
                row[index] = prep(row[index])
            prepped.append(row)
        if many:
            writes.add(self.head + self.row, prepped, many=True)
            return
        for start in range(0, len(prepped), INSERT_ROWS):
            chunk = prepped[start : start + INSERT_ROWS]
            params = [value for row in chunk for value in row]
            writes.add(self.head + ", ".join([self.row] * len(chunk)), params)


class Statements:
    """The statements and parameter converters of the current database vendor."""

    def __init__(self) -> None:
        # The driver's placeholder: the statements go to the driver's own cursor.
        self.mark = "?" if connection.vendor == "sqlite" else "%s"
        self.executemany = connection.vendor == "sqlite"
        self.compound = connection.vendor == "mysql" and connection.mysql_is_mariadb
        self.memo: dict[Any, Any] = {}
        position_read = _fields(Position, _POSITION_READ)
        self.position_read = position_read
        account, instrument = _fields(Position, ("account", "instrument"))
        self.prep_account = preparer(account, self.memo)
        self.prep_instrument = preparer(instrument, self.memo)
        self.can_lock = connection.features.has_select_for_update
        lock = " FOR UPDATE" if self.can_lock else ""
        position_table = _qn(Position._meta.db_table)
        self.position_lock_sql = (
            f"SELECT {_columns(position_read)} FROM {position_table} "  # noqa: S608
            f"WHERE {_qn(account.column)} = %s AND {_qn(instrument.column)} = %s{lock}"
        )
        # Several positions: their ids read without locks, then locked in one statement in
        # primary-key order (an ordered scan of the pk locks its rows in that order).
        self.positions_find_sql = (
            f"SELECT {_qn('id')}, {_qn(account.column)}, {_qn(instrument.column)} "  # noqa: S608
            f"FROM {position_table} WHERE {_qn(account.column)} IN "
        )
        self.instrument_in_sql = f" AND {_qn(instrument.column)} IN "
        self.positions_lock_sql = (
            f"SELECT {_columns(position_read)} FROM {position_table} "  # noqa: S608
            f"WHERE {_qn('id')} IN "
        )
        self.lock_suffix = f" ORDER BY {_qn('id')}{lock}"

        self.fill_fields = _fields(Fill, FILL_WRITE)
        self.fill_preps = [preparer(f, self.memo) for f in self.fill_fields]
        self.fill_rows = _Insert(Fill, self.fill_fields, self.fill_preps)

        lot_read = _fields(Lot, _LOT_READ)
        self.lot_read = lot_read
        lot_table = _qn(Lot._meta.db_table)
        position_col = _qn(Lot._meta.get_field("position").column)
        seq_col = _qn(Lot._meta.get_field("opened_seq").column)
        self.lots_oldest_sql = (
            f"SELECT {_columns(lot_read)} FROM {lot_table} "  # noqa: S608
            f"WHERE {position_col} = %s ORDER BY {seq_col}"
        )
        self.lot_fill_id = Lot._meta.get_field("opened_by").target_field.to_python
        self.lots_delete_sql = f"DELETE FROM {lot_table} WHERE {_qn('id')} IN "  # noqa: S608
        remaining = Lot._meta.get_field("remaining_qty")
        self.prep_remaining = preparer(remaining, self.memo)
        self.lot_set_remaining_sql = (
            f"UPDATE {lot_table} SET {_qn(remaining.column)} = %s WHERE {_qn('id')} = %s"  # noqa: S608
        )
        self.lot_fields = _fields(Lot, _LOT_WRITE)
        self.lot_preps = [preparer(f, self.memo) for f in self.lot_fields]
        self.lot_rows = _Insert(Lot, self.lot_fields, self.lot_preps)

        self.match_fields = _fields(RealizedMatch, _MATCH_WRITE)
        self.match_preps = [preparer(f, self.memo) for f in self.match_fields]
        self.match_rows = _Insert(RealizedMatch, self.match_fields, self.match_preps)

        self.position_fields = _fields(Position, POSITION_WRITE)
        self.position_preps = [preparer(f, self.memo) for f in self.position_fields]
        last_field = Position._meta.get_field("last_fill_at")
        self.prep_last = preparer(last_field, self.memo)
        last = _qn(last_field.column)
        assignments = ", ".join(f"{_qn(f.column)} = %s" for f in self.position_fields)
        self.position_save_sql = (
            f"UPDATE {_qn(Position._meta.db_table)} SET {assignments}, "  # noqa: S608
            f"{last} = CASE WHEN {last} IS NULL OR {last} < %s THEN %s ELSE {last} END "
            f"WHERE {_qn('id')} = %s"
        )

        cash = TradingAccount._meta.get_field("cash")
        self.prep_cash = preparer(cash, self.memo)
        self.prep_account_pk = preparer(TradingAccount._meta.pk, self.memo)
        account_table = _qn(TradingAccount._meta.db_table)
        account_pk = _qn(TradingAccount._meta.pk.column)
        self.account_add_cash_sql = (
            f"UPDATE {account_table} "  # noqa: S608
            f"SET {_qn(cash.column)} = {_qn(cash.column)} + %s WHERE {account_pk} = %s"
        )
        self.accounts_lock_sql = f"SELECT {account_pk} FROM {account_table} WHERE {account_pk} IN "  # noqa: S608
        self.account_lock_suffix = f" ORDER BY {account_pk}{lock}"
        if self.mark != "%s":  # no other "%" appears in these statements
            for name, value in list(vars(self).items()):
                if name.endswith("_sql"):
                    setattr(self, name, value.replace("%s", self.mark))
                elif isinstance(value, _Insert):
                    value.use_mark(self.mark)

    # --- reads and locks -------------------------------------------------------------

    def position_key(self, *, account_id: Any, instrument_id: Any) -> tuple[Any, Any]:
        """(account, instrument) as the database stores them: one key per position."""
        return self.prep_account(account_id), self.prep_instrument(instrument_id)

    def position_lock(
        self, cursor: Any, *, account_id: Any, instrument_id: Any
    ) -> PositionRow | None:
        """The (account, instrument) position row, locked FOR UPDATE until the transaction
        ends."""
        cursor.execute(
            self.position_lock_sql,
            [self.prep_account(account_id), self.prep_instrument(instrument_id)],
        )
        row = cursor.fetchone()
        return None if row is None else self._position_row(row)

    def positions_find(
        self, cursor: Any, *, keys: Sequence[tuple[Any, Any]]
    ) -> dict[tuple[Any, Any], int]:
        """Ids of the positions with these keys (from `position_key`), without locks."""
        accounts = sorted({account for account, _ in keys})
        instruments = sorted({instrument for _, instrument in keys})
        cursor.execute(
            f"{self.positions_find_sql}({self._marks(len(accounts))})"
            f"{self.instrument_in_sql}({self._marks(len(instruments))})",
            [*accounts, *instruments],
        )
        wanted = set(keys)
        found = {}
        for pk, account, instrument in cursor.fetchall():
            key = self.position_key(account_id=account, instrument_id=instrument)
            if key in wanted:
                found[key] = pk
        return found

    def positions_lock(self, cursor: Any, *, ids: Sequence[int]) -> dict[int, PositionRow]:
        """Position rows by id, locked FOR UPDATE in primary-key order."""
        cursor.execute(
            f"{self.positions_lock_sql}({self._marks(len(ids))}){self.lock_suffix}", list(ids)
        )
        return {row[0]: self._position_row(row) for row in cursor.fetchall()}

    def accounts_lock(self, cursor: Any, *, account_ids: Sequence[Any]) -> None:
        """Lock the account rows FOR UPDATE in primary-key order (no-op on SQLite, whose
        write transaction already holds the whole database)."""
        if not self.can_lock:
            return
        keys = sorted({self.prep_account_pk(pk) for pk in account_ids})
        cursor.execute(
            f"{self.accounts_lock_sql}({self._marks(len(keys))}){self.account_lock_suffix}", keys
        )
        cursor.fetchall()

    def lots_oldest(self, cursor: Any, *, position_id: int, limit: int | None) -> list[LotRow]:
        """Open lots of the position, oldest first (FIFO), at most `limit` of them."""
        if limit is None:
            cursor.execute(self.lots_oldest_sql, [position_id])
        else:
            cursor.execute(self.lots_oldest_sql + f" LIMIT {int(limit)}", [position_id])
        fields, to_fill_id = self.lot_read, self.lot_fill_id
        return [
            LotRow(
                id=pk,
                opened_by_id=str(to_fill_id(fill_id)),
                original_qty=read_decimal(original, fields[3]),
                remaining_qty=read_decimal(remaining, fields[4]),
                price=read_decimal(price, fields[5]),
                opened_seq=int(opened_seq),
            )
            for pk, fill_id, _side, original, remaining, price, opened_seq in cursor.fetchall()
        ]

    # --- writes (collected, then sent by flush) ----------------------------------------

    def fills_insert(self, writes: Writes, rows: Sequence[Sequence[Any]]) -> None:
        """Fill rows, each in the order of FILL_WRITE."""
        self.fill_rows.add(writes, rows, many=self.executemany)

    def lots_delete(self, writes: Writes, ids: Sequence[int]) -> None:
        if ids:
            writes.add(f"{self.lots_delete_sql}({self._marks(len(ids))})", list(ids))

    def lot_set_remaining(self, writes: Writes, *, lot_id: int, remaining: Decimal) -> None:
        writes.add(self.lot_set_remaining_sql, [self.prep_remaining(remaining), lot_id])

    def lots_insert(self, writes: Writes, rows: Sequence[Sequence[Any]]) -> None:
        """Lot rows, each in the order of _LOT_WRITE."""
        self.lot_rows.add(writes, rows, many=self.executemany)

    def matches_insert(self, writes: Writes, rows: Sequence[Sequence[Any]]) -> None:
        """Realized matches in FIFO order (their ids keep it); rows per _MATCH_WRITE."""
        self.match_rows.add(writes, rows, many=self.executemany)

    def position_save(
        self, writes: Writes, *, position_id: int, values: Sequence[Any], fill_ts: datetime
    ) -> None:
        """Write the booked figures (per POSITION_WRITE); last_fill_at only moves forward."""
        ts = self.prep_last(fill_ts)
        writes.add(
            self.position_save_sql, [*_prep(self.position_preps, values), ts, ts, position_id]
        )

    def account_add_cash(self, writes: Writes, *, account_id: Any, delta: Decimal) -> None:
        """cash = cash + delta in one UPDATE (which takes the account's row lock)."""
        writes.add(
            self.account_add_cash_sql, [self.prep_cash(delta), self.prep_account_pk(account_id)]
        )

    def flush(self, cursor: Any, writes: Writes) -> None:
        """Send the collected writes, in order."""
        items = writes.items
        if self.compound and len(items) > 1:
            for block in _blocks(items):
                sql = "BEGIN NOT ATOMIC " + "; ".join(item[0] for item in block) + "; END"
                cursor.execute(sql, [value for item in block for value in item[1]])
        else:
            for sql, params, many in items:
                if many:
                    cursor.executemany(sql, params)
                else:
                    cursor.execute(sql, params)
        items.clear()

    # --- helpers -------------------------------------------------------------------------

    def _marks(self, count: int) -> str:
        return ", ".join([self.mark] * count)

    def _position_row(self, row: Sequence[Any]) -> PositionRow:
        fields = self.position_read
        pk, qty, open_cost, realized, fees, cash_flow, fill_count, multiplier = row
        return PositionRow(
            id=pk,
            qty=read_decimal(qty, fields[1]),
            open_cost=read_decimal(open_cost, fields[2]),
            realized=read_decimal(realized, fields[3]),
            fees=read_decimal(fees, fields[4]),
            cash_flow=read_decimal(cash_flow, fields[5]),
            fill_count=int(fill_count),
            multiplier=read_decimal(multiplier, fields[7]),
        )


def _prep(preps: Sequence[Callable[[Any], Any]], values: Sequence[Any]) -> list[Any]:
    return [prep(value) for prep, value in zip(preps, values, strict=True)]


def _blocks(
    items: list[tuple[str, list[Any], bool]],
) -> Iterator[list[tuple[str, list[Any], bool]]]:
    """The items in runs of at most BLOCK_PARAMS parameters (one compound statement each)."""
    block: list[tuple[str, list[Any], bool]] = []
    size = 0
    for item in items:
        if block and size + len(item[1]) > BLOCK_PARAMS:
            yield block
            block, size = [], 0
        block.append(item)
        size += len(item[1])
    if block:
        yield block


@cache
def _statements_for(vendor: str, mariadb: bool) -> Statements:
    return Statements()


def statements() -> Statements:
    """The statements of the default connection's database vendor (built once)."""
    wrapper = connections[DEFAULT_DB_ALIAS]
    vendor = wrapper.vendor
    return _statements_for(vendor, vendor == "mysql" and wrapper.mysql_is_mariadb)


@contextmanager
def cursor() -> Iterator[Any]:
    """The driver's own cursor (no per-statement Django wrapper; paramstyle per
    `Statements.mark`), with driver errors mapped to django.db errors (IntegrityError...).
    Use inside a transaction."""
    wrapper = connections[DEFAULT_DB_ALIAS]
    wrapper.ensure_connection()
    with wrapper.wrap_database_errors:
        raw = wrapper.connection
        # SQLite: the plain cursor, not Django's wrapper (which rewrites every statement's
        # placeholders); the adapters Django registers are module-wide and still apply.
        raw = raw.cursor(sqlite3.Cursor) if wrapper.vendor == "sqlite" else raw.cursor()
        try:
            yield raw
        finally:
            raw.close()
