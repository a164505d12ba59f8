"""Raw SQL for the fill-booking hot path (pnl/booking.py): the locked position read, the
fill, lot and match writes, the position update and the account's cash.

Every fill of every order goes through here, inside the caller's transaction; the ORM
costs several times more per statement than the database itself on this path (the same
trade-off as marketdata/quote_store.py). Values are always bound parameters converted the
way the model fields convert them, identifiers come from model metadata, and values read
back are converted exactly as the ORM converts them, so the rows written here are
indistinguishable from ORM rows (the rebuild compares them). Statements are built once
per database vendor. Dialects: SQLite, MySQL/MariaDB, PostgreSQL.
"""

from __future__ import annotations

import decimal
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import DecimalField, Field, Model

from accounts.models import TradingAccount
from pnl.models import Fill, Lot, Position, RealizedMatch

_FLOAT_TO_DECIMAL = decimal.Context(prec=15).create_decimal_from_float

_POSITION_READ = (
    "id", "qty", "open_cost", "realized", "fees", "cash_flow", "fill_count", "multiplier",
)  # fmt: skip
_LOT_READ = ("id", "opened_by", "side", "original_qty", "remaining_qty", "price", "opened_seq")
_FILL_WRITE = (
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
_POSITION_WRITE = (
    "qty", "open_cost", "avg_entry_price", "realized", "fees", "cash_flow", "fill_count",
    "updated_at",
)  # fmt: skip


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def _fields(model: type[Model], names: Sequence[str]) -> list[Field]:
    return [model._meta.get_field(name) for name in names]


def _columns(fields: Sequence[Field]) -> str:
    return ", ".join(_qn(field.column) for field in fields)


def _preparer(field: Field, memo: dict[datetime, Any] | None = None) -> Callable[[Any], Any]:
    """How `field` turns a Python value into a query parameter (what get_db_prep_save does,
    without its per-call overhead for the types that need no conversion)."""
    if isinstance(field, DecimalField):
        adapt = connection.ops.adapt_decimalfield_value
        places, digits = field.decimal_places, field.max_digits

        def prep_decimal(value: Any) -> Any:
            return None if value is None else adapt(value, digits, places)

        return prep_decimal
    kind = field.get_internal_type()
    target = field.target_field if field.is_relation else field
    if kind in ("CharField", "PositiveIntegerField", "BigAutoField"):
        return lambda value: value
    if target.get_internal_type() == "UUIDField":
        if connection.features.has_native_uuid_field:
            return lambda value: value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
        return lambda value: (value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))).hex
    if kind == "DateTimeField":
        adapt_datetime = connection.ops.adapt_datetimefield_value
        # One booking writes the same two datetimes (fill ts, now) into several rows and
        # fields: the statements share one small memo of adapted values.
        memo = {} if memo is None else memo

        def prep_datetime(value: Any) -> Any:
            if value is None:
                return None
            adapted = memo.get(value)
            if adapted is None:
                if len(memo) > 8:
                    memo.clear()
                adapted = memo[value] = adapt_datetime(value)
            return adapted

        return prep_datetime
    if kind == "DateField":
        return connection.ops.adapt_datefield_value
    return lambda value: field.get_db_prep_save(value, connection)


def read_decimal(value: Any, field: Field) -> Decimal | None:
    """A decimal column as the ORM returns it (SQLite keeps 15 significant digits)."""
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, int | float):
        quantum = Decimal(1).scaleb(-field.decimal_places)
        return _FLOAT_TO_DECIMAL(value).quantize(quantum, context=field.context)
    return Decimal(str(value))


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


class Statements:
    """The statements and parameter converters of the current database vendor."""

    def __init__(self) -> None:
        # The driver's placeholder: the statements go to the driver's own cursor.
        self.mark = "?" if connection.vendor == "sqlite" else "%s"
        self.memo: dict[datetime, Any] = {}
        position_read = _fields(Position, _POSITION_READ)
        self.position_read = position_read
        account, instrument = _fields(Position, ("account", "instrument"))
        self.prep_account = _preparer(account, self.memo)
        self.prep_instrument = _preparer(instrument, self.memo)
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        self.position_lock_sql = (
            f"SELECT {_columns(position_read)} FROM {_qn(Position._meta.db_table)} "  # noqa: S608
            f"WHERE {_qn(account.column)} = %s AND {_qn(instrument.column)} = %s{lock}"
        )

        self.fill_fields = _fields(Fill, _FILL_WRITE)
        self.fill_preps = [_preparer(f, self.memo) for f in self.fill_fields]
        self.fill_insert_sql = (
            f"INSERT INTO {_qn(Fill._meta.db_table)} ({_columns(self.fill_fields)}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(self.fill_fields))})"
        )

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
        self.prep_remaining = _preparer(remaining, self.memo)
        self.lot_set_remaining_sql = (
            f"UPDATE {lot_table} SET {_qn(remaining.column)} = %s WHERE {_qn('id')} = %s"  # noqa: S608
        )
        self.lot_fields = _fields(Lot, _LOT_WRITE)
        self.lot_preps = [_preparer(f, self.memo) for f in self.lot_fields]
        self.lot_insert_sql = (
            f"INSERT INTO {lot_table} ({_columns(self.lot_fields)}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(self.lot_fields))})"
        )

        self.match_fields = _fields(RealizedMatch, _MATCH_WRITE)
        self.match_preps = [_preparer(f, self.memo) for f in self.match_fields]
        self.match_row = "(" + ", ".join(["%s"] * len(self.match_fields)) + ")"
        self.match_insert_sql = (
            f"INSERT INTO {_qn(RealizedMatch._meta.db_table)} "  # noqa: S608
            f"({_columns(self.match_fields)}) VALUES "
        )

        self.position_fields = _fields(Position, _POSITION_WRITE)
        self.position_preps = [_preparer(f, self.memo) for f in self.position_fields]
        last_field = Position._meta.get_field("last_fill_at")
        self.prep_last = _preparer(last_field, self.memo)
        last = _qn(last_field.column)
        assignments = ", ".join(f"{_qn(f.column)} = %s" for f in self.position_fields)
        self.position_save_sql = (
            f"UPDATE {_qn(Position._meta.db_table)} SET {assignments}, "  # noqa: S608
            f"{last} = CASE WHEN {last} IS NULL OR {last} < %s THEN %s ELSE {last} END "
            f"WHERE {_qn('id')} = %s"
        )

        cash = TradingAccount._meta.get_field("cash")
        self.prep_cash = _preparer(cash, self.memo)
        self.prep_account_pk = _preparer(TradingAccount._meta.pk, self.memo)
        self.account_add_cash_sql = (
            f"UPDATE {_qn(TradingAccount._meta.db_table)} "  # noqa: S608
            f"SET {_qn(cash.column)} = {_qn(cash.column)} + %s "
            f"WHERE {_qn(TradingAccount._meta.pk.column)} = %s"
        )
        if self.mark != "%s":  # no other "%" appears in these statements
            for name, value in list(vars(self).items()):
                if name.endswith("_sql") or name == "match_row":
                    setattr(self, name, value.replace("%s", self.mark))

    # --- statements ----------------------------------------------------------------

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
        if row is None:
            return None
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

    def fill_insert(self, cursor: Any, values: Sequence[Any]) -> None:
        """One fill row; `values` in the order of _FILL_WRITE."""
        cursor.execute(self.fill_insert_sql, _prep(self.fill_preps, values))

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

    def lots_delete(self, cursor: Any, ids: Sequence[int]) -> None:
        marks = ", ".join([self.mark] * len(ids))
        cursor.execute(f"{self.lots_delete_sql}({marks})", list(ids))

    def lot_set_remaining(self, cursor: Any, *, lot_id: int, remaining: Decimal) -> None:
        cursor.execute(self.lot_set_remaining_sql, [self.prep_remaining(remaining), lot_id])

    def lot_insert(self, cursor: Any, values: Sequence[Any]) -> None:
        """One lot row; `values` in the order of _LOT_WRITE."""
        cursor.execute(self.lot_insert_sql, _prep(self.lot_preps, values))

    def matches_insert(self, cursor: Any, rows: Sequence[Sequence[Any]]) -> None:
        """Realized matches in one statement, in FIFO order; rows per _MATCH_WRITE."""
        if not rows:
            return
        params: list[Any] = []
        for row in rows:
            params.extend(_prep(self.match_preps, row))
        cursor.execute(self.match_insert_sql + ", ".join([self.match_row] * len(rows)), params)

    def position_save(
        self, cursor: Any, *, position_id: int, values: Sequence[Any], fill_ts: datetime
    ) -> None:
        """Write the booked figures (per _POSITION_WRITE); last_fill_at only moves forward."""
        ts = self.prep_last(fill_ts)
        cursor.execute(
            self.position_save_sql, [*_prep(self.position_preps, values), ts, ts, position_id]
        )

    def account_add_cash(self, cursor: Any, *, account_id: Any, delta: Decimal) -> None:
        """cash = cash + delta in one UPDATE (which takes the account's row lock)."""
        cursor.execute(
            self.account_add_cash_sql, [self.prep_cash(delta), self.prep_account_pk(account_id)]
        )


def _prep(preps: Sequence[Callable[[Any], Any]], values: Sequence[Any]) -> list[Any]:
    return [prep(value) for prep, value in zip(preps, values, strict=True)]


@cache
def _statements_for(vendor: str) -> Statements:
    return Statements()


def statements() -> Statements:
    """The statements of the default connection's database vendor (built once)."""
    return _statements_for(connection.vendor)


@contextmanager
def cursor() -> Iterator[Any]:
    """The driver's own cursor (no per-statement Django wrapper; paramstyle per
    `Statements.mark`), with driver errors mapped to django.db errors (IntegrityError...).
    Use inside a transaction."""
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = connection.connection.cursor()
        try:
            yield raw
        finally:
            raw.close()
