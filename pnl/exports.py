"""CSV exports of fills, realized matches and daily PnL, streamed row by row (a large
ledger never sits in memory). Only the accounts the user may see; an explicit account the
user cannot see is NotFound. Decimals are written exactly (no rounding, no exponent).

Formula injection (OWASP "CSV Injection"): these files are opened in spreadsheets, and a cell
starting with = + - @ tab or CR is run as a formula there. Every TEXT cell (names, tags,
symbols, ids a broker sent...) starting with one of them is written with a leading single
quote, which the spreadsheet shows as text. Numbers are written from Decimal values, never
from text, so a loss stays the number -12.5 and still adds up; a tag of "-12.5" is text and
is quoted like any other text."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from django.http import StreamingHttpResponse

from accounts.models import TradingAccount, User
from marketdata.selectors import normalize_symbol
from oms_site.api import format_decimal
from pnl.models import Fill, RealizedMatch
from pnl.reports import pnl_report
from pnl.selectors import scoped, visible_account_ids

CHUNK = 2000


class _Echo:
    def write(self, value: str) -> str:
        return value


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format_decimal(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _stream(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_cell(value) for value in row])


def _filtered(qs, *, symbol: str | None, date_from: date | None, date_to: date | None):
    if symbol:
        qs = qs.filter(symbol=normalize_symbol(symbol))
    if date_from is not None:
        qs = qs.filter(trade_date__gte=date_from)
    if date_to is not None:
        qs = qs.filter(trade_date__lte=date_to)
    return qs


def _fills(account_ids, **filters) -> tuple[list[str], Iterable]:
    header = [
        "ts",
        "fill_id",
        "order_id",
        "account_id",
        "account",
        "symbol",
        "side",
        "qty",
        "price",
        "fee",
        "liquidity",
        "tag",
        "trade_id",
        "report_id",
    ]
    qs = _filtered(scoped(Fill.objects.all(), account_ids), **filters).order_by("ts", "seq", "id")
    rows = qs.values_list(
        "ts",
        "id",
        "order_id",
        "account_id",
        "account__name",
        "symbol",
        "side",
        "qty",
        "price",
        "fee",
        "liquidity",
        "tag",
        "trade_id",
        "report_id",
    ).iterator(CHUNK)
    return header, rows


def _matches(account_ids, **filters) -> tuple[list[str], Iterable]:
    header = [
        "closed_at",
        "account_id",
        "account",
        "symbol",
        "lot_side",
        "qty",
        "entry_fill_id",
        "entry_ts",
        "entry_price",
        "exit_fill_id",
        "exit_price",
        "realized_pnl",
    ]
    qs = _filtered(scoped(RealizedMatch.objects.all(), account_ids), **filters).order_by("ts", "id")
    rows = qs.values_list(
        "ts",
        "account_id",
        "account__name",
        "symbol",
        "lot_side",
        "qty",
        "entry_fill_id",
        "entry_fill__ts",
        "entry_price",
        "exit_fill_id",
        "exit_price",
        "amount",
    ).iterator(CHUNK)
    return header, rows


def _daily(user: User, account_ids, *, symbol, date_from, date_to) -> tuple[list[str], Iterable]:
    header = ["date", "account_id", "account", "realized_pnl", "unrealized_pnl", "fees", "net_pnl"]
    accounts = scoped(TradingAccount.objects.all(), account_ids, field="pk").order_by("name", "pk")

    def rows() -> Iterator[list[Any]]:
        for account in accounts.iterator():
            report = pnl_report(
                user=user, account_id=account.pk, date_from=date_from, date_to=date_to
            )
            for day in report.daily:
                yield [
                    day["date"],
                    account.pk,
                    account.name,
                    day["realized_pnl"],
                    day["unrealized_pnl"],
                    day["fees"],
                    day["net_pnl"],
                ]

    return header, rows()


def csv_response(
    *,
    user: User,
    kind: str,
    account_id: object = None,
    symbol: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> StreamingHttpResponse:
    account_ids = visible_account_ids(user=user, account_id=account_id)
    filters = {"symbol": symbol, "date_from": date_from, "date_to": date_to}
    if kind == "fills":
        header, rows = _fills(account_ids, **filters)
    elif kind == "matches":
        header, rows = _matches(account_ids, **filters)
    elif kind == "daily":
        header, rows = _daily(user, account_ids, **filters)
    else:
        raise ValueError(f"unknown export {kind!r}")
    response = StreamingHttpResponse(_stream(header, rows), content_type="text/csv; charset=utf-8")
    suffix = f"-{account_id}" if account_id else ""
    response["Content-Disposition"] = f'attachment; filename="{kind}{suffix}.csv"'
    return response
