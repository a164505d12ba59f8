"""Writes for market data: instruments, CSV import, watchlists, demo data, and (re-exported
from `marketdata.ingest`) the one tick path `tick_ingest` / `ticks_ingest`."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction

from marketdata.ingest import ingest_stats, tick_ingest, ticks_ingest
from marketdata.models import Exchange, Instrument, WatchlistItem
from marketdata.selectors import INSTRUMENTS_VERSION_KEY, instrument_get, normalize_symbol
from oms_site.errors import Conflict, NotFound, ValidationFailed
from oms_site.locks import lock_rows
from oms_site.parsing import InputError, decimal_from_input

__all__ = [
    "ImportReport",
    "ingest_stats",
    "instrument_create",
    "instruments_import_csv",
    "seed_demo_instruments",
    "seed_demo_watchlists",
    "sim_exchange_ensure",
    "tick_ingest",
    "ticks_ingest",
    "watchlist_add",
    "watchlist_remove",
]

_SYMBOL_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.&")
MAX_WATCHLIST = 100


def _decimal(value: Any, name: str, errors: dict[str, list[str]], *, required: bool) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[name] = ["This field is required."]
        return None
    try:
        return decimal_from_input(value)
    except InputError as exc:
        errors[name] = [exc.message]
        return None


def _clean_instrument(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Validate instrument fields (API and CSV share this); returns (clean, field errors)."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    symbol = normalize_symbol(str(data.get("symbol") or ""))
    if not symbol:
        errors["symbol"] = ["This field is required."]
    elif len(symbol) > 32 or not set(symbol) <= _SYMBOL_CHARS:
        errors["symbol"] = ["Use up to 32 letters, digits or - _ . &."]
    clean["symbol"] = symbol
    code = str(data.get("exchange") or "").strip().upper()
    if not code:
        errors["exchange"] = ["This field is required."]
    elif not Exchange.objects.filter(code=code).exists():
        errors["exchange"] = [f"Unknown exchange {code}."]
    clean["exchange_id"] = code
    clean["name"] = str(data.get("name") or "").strip()[:200]
    currency = str(data.get("currency") or "INR").strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        errors["currency"] = ["Use a 3-letter currency code."]
    clean["currency"] = currency
    for name, default in (("tick_size", "0.05"), ("lot_size", "1")):
        value = _decimal(data.get(name, default), name, errors, required=True)
        if value is not None and value <= 0:
            errors[name] = ["Must be positive."]
        if value is not None and value.as_tuple().exponent < -8:  # type: ignore[operator]
            errors[name] = ["At most 8 decimal places."]
        clean[name] = value
    band = _decimal(data.get("price_band_pct"), "price_band_pct", errors, required=False)
    if band is not None and not (0 < band <= 100):
        errors["price_band_pct"] = ["Must be between 0 and 100."]
    clean["price_band_pct"] = band
    for flag, default in (("tradable", True), ("simulate", False)):
        raw = data.get(flag, default)
        if isinstance(raw, str):
            lowered = raw.strip().lower()
            if lowered in ("", "1", "true", "yes", "y"):
                raw = lowered != "" or default
            elif lowered in ("0", "false", "no", "n"):
                raw = False
            else:
                errors[flag] = ["Must be true or false."]
        clean[flag] = bool(raw)
    start = _decimal(data.get("sim_start_price"), "sim_start_price", errors, required=False)
    if start is not None and start <= 0:
        errors["sim_start_price"] = ["Must be positive."]
    clean["sim_start_price"] = start
    return clean, errors


SIM_EXCHANGE: dict[str, Any] = {
    "code": "SIM",
    "name": "Simulated exchange (24×7)",
    "timezone": "UTC",
    "always_open": True,
    "open_time": None,
    "close_time": None,
    "trading_weekdays": "0123456",
    "holiday_calendar": "",
}


def instruments_changed(**_signal: Any) -> None:
    """An instrument or exchange was saved or deleted: once it commits, every process's
    memo of instruments (marketdata.selectors.instrument_get_current) reads them afresh."""
    transaction.on_commit(
        lambda: cache.set(INSTRUMENTS_VERSION_KEY, uuid.uuid4().hex, timeout=None)
    )


def sim_exchange_ensure() -> Exchange:
    """`SIM` is part of the API contract ("always open, no holidays; demos and tests use it"),
    so it exists on every install, seeded or not (a data migration creates it too; this
    brings it back should someone delete it)."""
    exchange, _ = Exchange.objects.get_or_create(
        code=SIM_EXCHANGE["code"],
        defaults={k: v for k, v in SIM_EXCHANGE.items() if k != "code"},
    )
    return exchange


@transaction.atomic
def instrument_create(**data: Any) -> Instrument:
    """Create an instrument; ValidationFailed on bad fields, Conflict if the symbol exists."""
    sim_exchange_ensure()
    clean, errors = _clean_instrument(data)
    if errors:
        name, messages = next(iter(errors.items()))
        raise ValidationFailed(f"{name}: {messages[0]}", fields=errors)
    if Instrument.objects.filter(symbol=clean["symbol"]).exists():
        raise Conflict(f"Instrument {clean['symbol']} already exists.")
    try:
        with transaction.atomic():
            return Instrument.objects.create(**clean)
    except IntegrityError as exc:
        raise Conflict(f"Instrument {clean['symbol']} already exists.") from exc


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, message)

    @property
    def ok(self) -> bool:
        return not self.errors


CSV_COLUMNS = (
    "symbol",
    "exchange",
    "name",
    "currency",
    "tick_size",
    "lot_size",
    "price_band_pct",
    "tradable",
    "simulate",
    "sim_start_price",
)


@transaction.atomic
def instruments_import_csv(*, text: str) -> ImportReport:
    """Create or update instruments from CSV (header row; `symbol` and `exchange` required).

    All or nothing: if any line is invalid, nothing is written and every bad line is
    reported with its line number.
    """
    sim_exchange_ensure()
    report = ImportReport()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "symbol" not in header or "exchange" not in header:
        report.errors.append((1, "The header must name at least the symbol and exchange columns."))
        return report
    unknown = [h for h in header if h and h not in CSV_COLUMNS]
    if unknown:
        report.errors.append((1, "Unknown columns: " + ", ".join(unknown) + "."))
        return report
    reader.fieldnames = header
    rows: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        values = {k: (v or "").strip() for k, v in row.items() if k}
        if not any(values.values()):
            continue
        present = {k: v for k, v in values.items() if v != ""}
        clean, errors = _clean_instrument({**present, "symbol": values.get("symbol", "")})
        for name, messages in errors.items():
            report.errors.append((line, f"{name}: {messages[0]}"))
        if clean["symbol"] in seen:
            report.errors.append(
                (
                    line,
                    f"symbol: {clean['symbol']} already appears on line {seen[clean['symbol']]}.",
                )
            )
        seen[clean["symbol"]] = line
        if not errors:
            rows.append((line, {k: v for k, v in clean.items() if _given(k, present)}))
    if report.errors:
        return report
    for _line, clean in rows:
        symbol = clean.pop("symbol")
        _, created = Instrument.objects.update_or_create(symbol=symbol, defaults=clean)
        (report.created if created else report.updated).append(symbol)
    return report


def _given(key: str, present: dict[str, str]) -> bool:
    """Only the columns a row fills in are written on update (blank keeps the old value)."""
    source = "exchange" if key == "exchange_id" else key
    return key == "symbol" or source in present


@transaction.atomic
def watchlist_add(*, user, symbol: str) -> WatchlistItem:
    try:
        instrument = instrument_get(symbol=symbol)
    except NotFound as exc:
        raise ValidationFailed(
            f"Unknown symbol {symbol}.", fields={"symbol": [f"Unknown symbol {symbol}."]}
        ) from exc
    existing = WatchlistItem.objects.filter(user=user, instrument=instrument).first()
    if existing is not None:
        return existing
    items = lock_rows(WatchlistItem.objects.filter(user=user))
    if len(items) >= MAX_WATCHLIST:
        raise ValidationFailed(
            f"A watchlist holds at most {MAX_WATCHLIST} symbols.",
            fields={"symbol": ["The watchlist is full."]},
        )
    position = max((item.position for item in items), default=0) + 1
    return WatchlistItem.objects.create(user=user, instrument=instrument, position=position)


@transaction.atomic
def watchlist_remove(*, user, symbol: str) -> None:
    deleted, _ = WatchlistItem.objects.filter(
        user=user, instrument__symbol=normalize_symbol(symbol)
    ).delete()
    if not deleted:
        raise NotFound(f"{symbol} is not on your watchlist.")


# --- Demo data ---------------------------------------------------------------------------

DEMO_EXCHANGES = [
    SIM_EXCHANGE,
    {
        "code": "NSE",
        "name": "National Stock Exchange of India",
        "timezone": "Asia/Kolkata",
        "always_open": False,
        "open_time": time(9, 15),
        "close_time": time(15, 30),
        "trading_weekdays": "01234",
        "holiday_calendar": "XNSE",
    },
]

# (symbol, exchange, name, start price, annualised volatility, simulate)
DEMO_INSTRUMENTS = [
    ("ACME", "SIM", "Acme Corporation", "1250.00", "0.30", True),
    ("GLOBEX", "SIM", "Globex Industries", "842.50", "0.35", True),
    ("INITECH", "SIM", "Initech Software", "356.20", "0.40", True),
    ("UMBRELLA", "SIM", "Umbrella Pharma", "2210.00", "0.25", True),
    ("STARK", "SIM", "Stark Engineering", "3115.40", "0.28", True),
    ("RELIANCE", "NSE", "Reliance Industries", "2950.00", "0.22", False),
    ("TCS", "NSE", "Tata Consultancy Services", "4120.00", "0.20", False),
]


@transaction.atomic
def seed_demo_instruments() -> list[Instrument]:
    """Idempotent: the SIM and NSE exchanges and the demo instruments (existing rows are
    left as an admin may have edited them)."""
    for spec in DEMO_EXCHANGES:
        code = spec["code"]
        Exchange.objects.get_or_create(
            code=code, defaults={k: v for k, v in spec.items() if k != "code"}
        )
    out = []
    for symbol, exchange, name, start, vol, simulate in DEMO_INSTRUMENTS:
        instrument, _ = Instrument.objects.get_or_create(
            symbol=symbol,
            defaults={
                "exchange_id": exchange,
                "name": name,
                "currency": "INR",
                "tick_size": Decimal("0.05"),
                "lot_size": Decimal("1"),
                "price_band_pct": Decimal("20"),
                "tradable": True,
                "simulate": simulate,
                "sim_start_price": Decimal(start),
                "sim_volatility": Decimal(vol),
            },
        )
        out.append(instrument)
    return out


@transaction.atomic
def seed_demo_watchlists() -> int:
    """Idempotent: give every user whose watchlist is empty the simulated demo symbols, so
    `make run` opens on moving prices. Returns how many users got a list."""
    from django.contrib.auth import get_user_model

    demo = list(Instrument.objects.filter(simulate=True).order_by("symbol"))
    if not demo:
        return 0
    users = get_user_model().objects.filter(is_active=True, watchlist_items__isnull=True)
    count = 0
    for user in users:
        WatchlistItem.objects.bulk_create(
            [
                WatchlistItem(user=user, instrument=instrument, position=position)
                for position, instrument in enumerate(demo, start=1)
            ],
            ignore_conflicts=True,
        )
        count += 1
    return count
