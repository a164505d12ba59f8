"""Raw SQL for the hot tick path: instruments by symbol, locked quote rows, quote and bar
upserts. The ORM costs more per statement than the DB itself on this path, so these
statements are written once here (SQLite, MySQL/MariaDB and PostgreSQL dialects). Values
are always bound parameters; identifiers come from model metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection

from marketdata.bars import OHLCV
from marketdata.models import Bar, Exchange, Instrument, Quote
from oms_site.values import decimal_or_none

_QUOTE_VALUE_FIELDS = (
    "last",
    "bid",
    "ask",
    "volume",
    "ts",
    "trading_date",
    "day_open",
    "day_high",
    "day_low",
    "prev_close",
)
_BAR_VALUE_FIELDS = ("ts", "open", "high", "low", "close", "volume")


@dataclass(slots=True)
class QuoteRow:
    """One Quote row as the ingest path works on it (`instrument_id` as the DB stores it)."""

    instrument_id: Any
    symbol: str
    last: Decimal | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    volume: Decimal = Decimal(0)
    ts: datetime | None = None
    trading_date: date | None = None
    day_open: Decimal | None = None
    day_high: Decimal | None = None
    day_low: Decimal | None = None
    prev_close: Decimal | None = None


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def _dt(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def instruments_by_symbol(symbols: set[str]) -> dict[str, tuple[Any, str]]:
    """symbol → (instrument id as stored, exchange time zone) for the known symbols."""
    if not symbols:
        return {}
    instrument, exchange = Instrument._meta.db_table, Exchange._meta.db_table
    marks = ", ".join(["%s"] * len(symbols))
    sql = (
        f"SELECT i.{_qn('id')}, i.{_qn('symbol')}, e.{_qn('timezone')} "  # noqa: S608
        f"FROM {_qn(instrument)} i JOIN {_qn(exchange)} e "
        f"ON e.{_qn('code')} = i.{_qn('exchange_id')} "
        f"WHERE i.{_qn('symbol')} IN ({marks})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(symbols))
        return {symbol: (pk, tz) for pk, symbol, tz in cursor.fetchall()}


def _select_quotes(ids: list[Any]) -> dict[str, QuoteRow]:
    if not ids:
        return {}
    columns = ", ".join(_qn(c) for c in ("instrument_id", "symbol", *_QUOTE_VALUE_FIELDS))
    marks = ", ".join(["%s"] * len(ids))
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    sql = (
        f"SELECT {columns} FROM {_qn(Quote._meta.db_table)} "  # noqa: S608
        f"WHERE {_qn('instrument_id')} IN ({marks}) ORDER BY {_qn('instrument_id')}{lock}"
    )
    out: dict[str, QuoteRow] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, ids)
        for row in cursor.fetchall():
            pk, symbol, last, bid, ask, volume, ts, day, d_open, d_high, d_low, prev = row
            out[symbol] = QuoteRow(
                instrument_id=pk,
                symbol=symbol,
                last=decimal_or_none(last),
                bid=decimal_or_none(bid),
                ask=decimal_or_none(ask),
                volume=decimal_or_none(volume) or Decimal(0),
                ts=_dt(ts),
                trading_date=_date(day),
                day_open=decimal_or_none(d_open),
                day_high=decimal_or_none(d_high),
                day_low=decimal_or_none(d_low),
                prev_close=decimal_or_none(prev),
            )
    return out


def lock_quotes(instruments: dict[str, tuple[Any, str]], symbols: set[str]) -> dict[str, QuoteRow]:
    """The Quote rows of `symbols`, locked until the transaction ends (pk order, so two
    batches never deadlock). A symbol's first tick creates its row first."""
    ids = sorted(instruments[s][0] for s in symbols)
    rows = _select_quotes(ids)
    missing = sorted(s for s in symbols if s not in rows)
    if missing:
        Quote.objects.bulk_create(
            [
                Quote(instrument_id=Instrument._meta.pk.to_python(instruments[s][0]), symbol=s)
                for s in missing
            ],
            ignore_conflicts=True,
        )
        rows.update(_select_quotes(sorted(instruments[s][0] for s in missing)))
    return rows


def save_quotes(rows: list[QuoteRow], *, now: datetime) -> None:
    """Write the changed quote rows (they exist and are locked)."""
    if not rows:
        return
    fields = {name: Quote._meta.get_field(name) for name in (*_QUOTE_VALUE_FIELDS, "updated_at")}
    assignments = ", ".join(f"{_qn(name)} = %s" for name in fields)
    sql = (
        f"UPDATE {_qn(Quote._meta.db_table)} SET {assignments} "  # noqa: S608
        f"WHERE {_qn('instrument_id')} = %s"
    )
    params = []
    for row in rows:
        values = [getattr(row, name) for name in _QUOTE_VALUE_FIELDS] + [now]
        params.append(
            [
                field.get_db_prep_save(value, connection)
                for field, value in zip(fields.values(), values, strict=True)
            ]
            + [row.instrument_id]
        )
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def upsert_bars(bars: list[tuple[Any, OHLCV]]) -> None:
    """Insert or merge 1m bars in one statement: the DB keeps the period's open, widens
    high/low, takes the new close and adds volume (safe across batches and processes,
    because the symbol's quote row is locked)."""
    if not bars:
        return
    table = _qn(Bar._meta.db_table)
    fields = [Bar._meta.get_field(name) for name in _BAR_VALUE_FIELDS]
    columns = ", ".join(_qn(c) for c in ("instrument_id", *_BAR_VALUE_FIELDS))
    placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(bars))
    params: list[Any] = []
    for instrument_id, bar in bars:
        params.append(instrument_id)
        values = (bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume)
        params.extend(
            f.get_db_prep_save(v, connection) for f, v in zip(fields, values, strict=True)
        )
    high, low, close, volume = _qn("high"), _qn("low"), _qn("close"), _qn("volume")
    insert = f"INSERT INTO {table} ({columns}) VALUES {placeholders} "  # noqa: S608
    if connection.vendor == "mysql":
        merge = (
            f"ON DUPLICATE KEY UPDATE {high} = GREATEST({high}, VALUES({high})), "
            f"{low} = LEAST({low}, VALUES({low})), {close} = VALUES({close}), "
            f"{volume} = {volume} + VALUES({volume})"
        )
    else:
        greatest, least = ("MAX", "MIN") if connection.vendor == "sqlite" else ("GREATEST", "LEAST")
        merge = (
            f"ON CONFLICT ({_qn('instrument_id')}, {_qn('ts')}) DO UPDATE SET "
            f"{high} = {greatest}({table}.{high}, excluded.{high}), "
            f"{low} = {least}({table}.{low}, excluded.{low}), "
            f"{close} = excluded.{close}, {volume} = {table}.{volume} + excluded.{volume}"
        )
    with connection.cursor() as cursor:
        cursor.execute(insert + merge, params)


def read_bars(wanted: dict[str, tuple[Any, datetime]]) -> dict[str, OHLCV]:
    """symbol → the stored 1m bar starting at the given minute (instrument id as stored)."""
    if not wanted:
        return {}
    ts_field = Bar._meta.get_field("ts")
    by_key: dict[tuple[Any, datetime], str] = {}
    clauses, params = [], []
    for symbol, (instrument_id, minute) in wanted.items():
        clauses.append(f"({_qn('instrument_id')} = %s AND {_qn('ts')} = %s)")
        params.extend([instrument_id, ts_field.get_db_prep_save(minute, connection)])
        by_key[(instrument_id, minute)] = symbol
    columns = ", ".join(_qn(c) for c in ("instrument_id", *_BAR_VALUE_FIELDS))
    sql = (
        f"SELECT {columns} FROM {_qn(Bar._meta.db_table)} "  # noqa: S608
        f"WHERE {' OR '.join(clauses)}"
    )
    out: dict[str, OHLCV] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for pk, ts, o, h, low, c, v in cursor.fetchall():
            minute = _dt(ts)
            symbol = by_key.get((pk, minute))
            if symbol is not None:
                out[symbol] = OHLCV(
                    minute,
                    decimal_or_none(o),
                    decimal_or_none(h),
                    decimal_or_none(low),
                    decimal_or_none(c),
                    decimal_or_none(v),
                )
    return out
