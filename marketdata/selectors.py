"""Reads for market data: instruments, latest quotes, bars, watchlists."""

from __future__ import annotations

import copy
import threading
import uuid
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q, QuerySet

from marketdata.bars import INTERVALS, OHLCV, aggregate, period_start
from marketdata.models import Bar, Exchange, Instrument, Quote, WatchlistItem
from marketdata.snapshots import QuoteSnapshot, quote_cache_key
from oms_site.api import format_decimal
from oms_site.errors import NotFound, ValidationFailed

MAX_BARS = 1000
DEFAULT_BARS = 300


def normalize_symbol(symbol: str) -> str:
    return (symbol or "").strip().upper()


def instrument_get(*, symbol: str) -> Instrument:
    """The instrument with this symbol (case-insensitive); NotFound otherwise."""
    try:
        # get(), not first(): symbols are unique, and first()'s ordering costs compiling.
        return Instrument.objects.select_related("exchange").get(symbol=normalize_symbol(symbol))
    except Instrument.DoesNotExist as exc:
        raise NotFound(f"Instrument {symbol} does not exist.") from exc


INSTRUMENTS_VERSION_KEY = "marketdata:instruments:version"


class _InstrumentMemo:
    """Instruments by symbol kept by this process, good while the shared version stamp
    (Redis; moved by `instruments_changed` whenever an instrument or exchange is saved or
    deleted) is the one they were read under: an order reads one cache key, not a row."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[str, Instrument]] = {}
        self._guard = threading.Lock()

    def get(self, symbol: str) -> Instrument:
        version = cache.get(INSTRUMENTS_VERSION_KEY)
        if version is None:
            # First use, or Redis lost it: a new stamp, so nothing read before counts.
            cache.add(INSTRUMENTS_VERSION_KEY, uuid.uuid4().hex, timeout=None)
            version = cache.get(INSTRUMENTS_VERSION_KEY)
            if version is None:
                return instrument_get(symbol=symbol)
        with self._guard:
            entry = self._entries.get(symbol)
        if entry is None or entry[0] != version:
            # The version is read before the row: a change committed in between moves the
            # stamp after this read, so what is kept here is never newer than its stamp says.
            entry = (version, instrument_get(symbol=symbol))
            with self._guard:
                self._entries[symbol] = entry
        return copy.copy(entry[1])  # each caller its own instance (with its own _state)


_instrument_memo = _InstrumentMemo()


def instrument_get_current(*, symbol: str) -> Instrument:
    """`instrument_get`, from this process's memo while no instrument or exchange changed
    (placing orders reads it on every order). Without Redis (one process): the database."""
    symbol = normalize_symbol(symbol)
    if not _cache_enabled():
        return instrument_get(symbol=symbol)
    return _instrument_memo.get(symbol)


def instrument_list(
    *,
    exchange: str | None = None,
    q: str | None = None,
    tradable: bool | None = None,
    simulate: bool | None = None,
) -> QuerySet[Instrument]:
    qs = Instrument.objects.select_related("exchange").order_by("symbol")
    if exchange:
        qs = qs.filter(exchange_id=exchange.strip().upper())
    if q:
        q = q.strip()
        qs = qs.filter(Q(symbol__icontains=q) | Q(name__icontains=q))
    if tradable is not None:
        qs = qs.filter(tradable=tradable)
    if simulate is not None:
        qs = qs.filter(simulate=simulate)
    return qs


def instrument_tick_sizes() -> dict[str, str]:
    """Every instrument's tick size by symbol, as canonical decimal strings (for pages)."""
    return {
        symbol: format_decimal(tick)
        for symbol, tick in Instrument.objects.order_by().values_list("symbol", "tick_size")
    }


def instrument_tick_size(*, symbol: str) -> Decimal | None:
    """The tick size of one instrument (None for an unknown symbol): pages write its prices."""
    return Instrument.objects.filter(symbol=symbol).values_list("tick_size", flat=True).first()


def exchange_list() -> QuerySet[Exchange]:
    return Exchange.objects.order_by("code")


def _cache_enabled() -> bool:
    return bool(settings.REDIS_URL)


def quote_latest(*, symbol: str) -> QuoteSnapshot | None:
    """The latest quote (Redis when configured, else the DB); None before the first tick."""
    symbol = normalize_symbol(symbol)
    return quotes_latest(symbols=[symbol]).get(symbol)


def quotes_latest(*, symbols: list[str]) -> dict[str, QuoteSnapshot]:
    """Latest quotes of the symbols that have one, keyed by symbol."""
    wanted = [normalize_symbol(s) for s in symbols if s and s.strip()]
    out: dict[str, QuoteSnapshot] = {}
    if not wanted:
        return out
    if _cache_enabled():
        cached = cache.get_many([quote_cache_key(s) for s in wanted])
        for symbol in wanted:
            data = cached.get(quote_cache_key(symbol))
            if data is not None:
                out[symbol] = QuoteSnapshot.from_cache(data)
    missing = [s for s in wanted if s not in out]
    if missing:
        for row in Quote.objects.filter(symbol__in=missing, last__isnull=False):
            out[row.symbol] = QuoteSnapshot.from_row(row)
    return out


def quotes_all() -> dict[str, QuoteSnapshot]:
    return {
        row.symbol: QuoteSnapshot.from_row(row)
        for row in Quote.objects.filter(last__isnull=False).order_by("symbol")[:MAX_BARS]
    }


def _exchange_zone(instrument: Instrument) -> ZoneInfo:
    try:
        return ZoneInfo(instrument.exchange.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def bar_list(
    *,
    instrument: Instrument,
    interval: str = "1m",
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = DEFAULT_BARS,
) -> list[OHLCV]:
    """OHLCV bars of `interval`, oldest first, derived on read from the stored 1m bars.

    Without `start`, the latest `limit` bars up to `end` (default now). At most 1000 bars.
    """
    if interval not in INTERVALS:
        raise ValidationFailed(
            "interval must be one of " + ", ".join(INTERVALS) + ".",
            fields={"interval": [f"Unknown interval {interval!r}."]},
        )
    limit = max(1, min(int(limit), MAX_BARS))
    tz = _exchange_zone(instrument)
    step = INTERVALS[interval]
    if start is not None and end is not None and start > end:
        raise ValidationFailed("from must not be after to.", fields={"from": ["After to."]})
    qs = Bar.objects.filter(instrument=instrument)
    if end is not None:
        qs = qs.filter(ts__lte=end)
    if start is not None:
        qs = qs.filter(ts__gte=period_start(start, interval, tz=tz))
    elif interval == "1m":
        rows = list(qs.order_by("-ts")[:limit])
        rows.reverse()
        return [_ohlcv(row) for row in rows]
    else:
        # The latest `limit` periods: start from the newest stored bar, not from now, so a
        # quiet instrument still shows its history.
        newest = qs.order_by("-ts").values_list("ts", flat=True).first()
        if newest is None:
            return []
        first = period_start(newest, interval, tz=tz) - step * (limit - 1)
        qs = qs.filter(ts__gte=period_start(first, interval, tz=tz))
    rows = qs.order_by("ts").values_list("ts", "open", "high", "low", "close", "volume")
    bars = (OHLCV(*row) for row in rows.iterator(chunk_size=5000))
    out = list(aggregate(bars, interval, tz=tz)) if interval != "1m" else list(bars)
    return out[-limit:] if start is None else out[:limit]


def _ohlcv(row: Bar) -> OHLCV:
    return OHLCV(row.ts, row.open, row.high, row.low, row.close, row.volume)


def watchlist_symbols(*, user) -> list[str]:
    return list(
        WatchlistItem.objects.filter(user=user)
        .order_by("position", "id")
        .values_list("instrument__symbol", flat=True)
    )


def watchlist_items(*, user) -> QuerySet[WatchlistItem]:
    return (
        WatchlistItem.objects.filter(user=user)
        .select_related("instrument", "instrument__exchange")
        .order_by("position", "id")
    )
