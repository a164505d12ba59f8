"""The one tick path: validate → lock quotes → apply in order → quote + 1m bars → commit →
quote cache → tick listeners → live push. Every source (API, simulator, replay, outside
adapters) calls `ticks_ingest`; `marketdata.services` re-exports it.

Ordering: the batch's Quote rows are locked (SELECT … FOR UPDATE, in pk order) for the whole
write, and a tick older than its symbol's current quote is dropped (reason `stale`), so ticks
of one symbol are applied in time order even with several ingesting processes.

Listeners and the push run in the ingesting process, synchronously, after the quote/bar
transaction commits (when called outside a transaction, as every feed and the API do; inside
an outer transaction they run when this function's own atomic block ends).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from marketdata import quote_store
from marketdata.bars import OHLCV, MinuteBarRoller, minute_floor
from marketdata.listeners import AppliedTick, dispatch_tick, tick_listeners
from marketdata.push import quote_publisher
from marketdata.quote_store import QuoteRow
from marketdata.snapshots import QUOTE_CACHE_TIMEOUT, QuoteSnapshot, quote_cache_key
from marketdata.ticks import (
    STALE,
    UNKNOWN_SYMBOL,
    IngestResult,
    ParsedTick,
    TickRejected,
    parse_tick,
)
from oms_site.errors import ValidationFailed
from oms_site.values import decimal_text_or_none, utc_text_or_none

logger = logging.getLogger(__name__)
_ZERO = Decimal(0)

# Per-process counters of what every source sent: "<source>:applied", "<source>:<reason>".
_counter_lock = threading.Lock()
ingest_counters: Counter[str] = Counter()


def _count(source: str, results: Iterable[IngestResult]) -> None:
    tally = Counter(f"{source}:applied" if r.applied else f"{source}:{r.reason}" for r in results)
    with _counter_lock:
        ingest_counters.update(tally)


@dataclass(slots=True)
class _QuoteState:
    """The mutable working copy of one Quote row during a batch."""

    row: QuoteRow
    tz: ZoneInfo
    changed: bool = False


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def tick_ingest(
    *,
    symbol: str,
    last: Any,
    bid: Any = None,
    ask: Any = None,
    volume: Any = 0,
    ts: Any = None,
    source: str = "api",
    bid_size: Any = None,
    ask_size: Any = None,
) -> IngestResult:
    """Ingest one tick (a feed's semantics: invalid or stale → dropped, not raised)."""
    raw = {"symbol": symbol, "last": last, "bid": bid, "ask": ask, "volume": volume, "ts": ts}
    raw.update(bid_size=bid_size, ask_size=ask_size)
    return ticks_ingest(ticks=[raw], source=source)[0]


def ticks_ingest(
    *,
    ticks: Sequence[Mapping[str, Any]],
    source: str = "feed",
    strict: bool = False,
) -> list[IngestResult]:
    """Apply a batch of raw ticks in order; one result per tick, in input order.

    strict=False (feeds): an invalid tick is skipped and counted. strict=True (the API): any
    invalid tick raises ValidationFailed naming it (fields "<index>.<field>") and nothing is
    applied. A stale tick is dropped and counted in both modes (it is not invalid input).
    """
    now = timezone.now()
    results: list[IngestResult | None] = [None] * len(ticks)
    parsed: list[tuple[int, ParsedTick]] = []
    errors: dict[str, list[str]] = {}
    for index, raw in enumerate(ticks):
        try:
            parsed.append((index, parse_tick(raw, now=now)))
        except TickRejected as rejected:
            symbol = raw.get("symbol") if isinstance(raw, Mapping) else None
            results[index] = IngestResult(
                symbol=str(symbol or ""),
                applied=False,
                reason=rejected.reason,
                message=rejected.message,
            )
            errors[f"{index}.{rejected.field}"] = [rejected.message]

    instruments = quote_store.instruments_by_symbol({tick.symbol for _, tick in parsed})
    known: list[tuple[int, ParsedTick]] = []
    for index, tick in parsed:
        if tick.symbol in instruments:
            known.append((index, tick))
            continue
        message = f"Unknown symbol {tick.symbol}."
        results[index] = IngestResult(
            symbol=tick.symbol, applied=False, reason=UNKNOWN_SYMBOL, message=message, ts=tick.ts
        )
        errors[f"{index}.symbol"] = [message]

    if strict and errors:
        raise ValidationFailed(_strict_message(errors, len(ticks)), fields=errors)

    applied: list[tuple[AppliedTick, QuoteRow]] = []
    touched: dict[str, _QuoteState] = {}
    bars: dict[str, OHLCV] = {}
    if known:
        applied, touched, bars = _apply(known, instruments, results, now)

    final = [r for r in results if r is not None]
    _count(source, final)
    if applied:
        _after_commit(applied, touched, bars)
    return final


def _strict_message(errors: dict[str, list[str]], count: int) -> str:
    name, messages = next(iter(errors.items()))
    position = name.split(".", 1)[0]
    return f"Tick {position} is invalid: {messages[0]} Nothing was applied." if count else ""


def _apply(
    known: list[tuple[int, ParsedTick]],
    instruments: dict[str, tuple[Any, str]],
    results: list[IngestResult | None],
    now: datetime,
) -> tuple[list[tuple[AppliedTick, QuoteRow]], dict[str, _QuoteState], dict[str, OHLCV]]:
    roller = MinuteBarRoller()
    applied: list[tuple[AppliedTick, QuoteRow]] = []
    with transaction.atomic():
        quotes = quote_store.lock_quotes(instruments, {tick.symbol for _, tick in known})
        states = {
            symbol: _QuoteState(row=row, tz=_zone(instruments[symbol][1]))
            for symbol, row in quotes.items()
        }
        for index, tick in known:
            state = states[tick.symbol]
            row = state.row
            if row.ts is not None and tick.ts < row.ts:
                results[index] = IngestResult(
                    symbol=tick.symbol,
                    applied=False,
                    reason=STALE,
                    message=f"Older than the current quote ({utc_text_or_none(row.ts)}).",
                    ts=tick.ts,
                )
                continue
            _apply_to_quote(state, tick)
            roller.add(tick.symbol, tick.ts, tick.last, tick.volume)
            results[index] = IngestResult(symbol=tick.symbol, applied=True, ts=tick.ts)
            applied.append(
                (
                    AppliedTick(
                        symbol=tick.symbol,
                        last=tick.last,
                        bid=tick.bid,
                        ask=tick.ask,
                        volume=tick.volume,
                        ts=tick.ts,
                        bid_size=tick.bid_size,
                        ask_size=tick.ask_size,
                    ),
                    row,
                )
            )
        quote_store.save_quotes([s.row for s in states.values() if s.changed], now=now)
        current_bars: dict[str, OHLCV] = {}
        if roller.bars:
            ids = {symbol: instruments[symbol][0] for symbol in states}
            quote_store.upsert_bars(
                [(ids[symbol], bar) for (symbol, _minute), bar in roller.bars.items()]
            )
            current_bars = quote_store.read_bars(
                {
                    symbol: (ids[symbol], minute_floor(state.row.ts))
                    for symbol, state in states.items()
                    if state.changed
                }
            )
    return applied, states, current_bars


def _apply_to_quote(state: _QuoteState, tick: ParsedTick) -> None:
    row = state.row
    day: date = tick.ts.astimezone(state.tz).date()
    if row.trading_date != day:
        # A new trading date: yesterday's last becomes the previous close; the day restarts.
        if row.last is not None and row.trading_date is not None and row.trading_date < day:
            row.prev_close = row.last
        row.trading_date = day
        row.volume = _ZERO
        row.day_open = row.day_high = row.day_low = tick.last
    else:
        if row.day_open is None:
            row.day_open = tick.last
        if row.day_high is None or tick.last > row.day_high:
            row.day_high = tick.last
        if row.day_low is None or tick.last < row.day_low:
            row.day_low = tick.last
    row.last = tick.last
    row.bid = tick.bid
    row.ask = tick.ask
    row.volume = (row.volume or _ZERO) + tick.volume
    row.ts = tick.ts
    state.changed = True


def _bar_dict(bar: OHLCV) -> dict[str, Any]:
    return {
        "ts": utc_text_or_none(bar.ts),
        "open": decimal_text_or_none(bar.open),
        "high": decimal_text_or_none(bar.high),
        "low": decimal_text_or_none(bar.low),
        "close": decimal_text_or_none(bar.close),
        "volume": decimal_text_or_none(bar.volume),
    }


def _after_commit(
    applied: list[tuple[AppliedTick, QuoteRow]],
    states: dict[str, _QuoteState],
    bars: dict[str, OHLCV],
) -> None:
    snapshots = {
        symbol: QuoteSnapshot.from_row(state.row)
        for symbol, state in states.items()
        if state.changed
    }
    if settings.REDIS_URL:
        cache.set_many(
            {quote_cache_key(s): snap.to_cache() for s, snap in snapshots.items()},
            timeout=QUOTE_CACHE_TIMEOUT,
        )
    if tick_listeners():
        for tick, _row in applied:
            dispatch_tick(tick)
    publisher = quote_publisher()
    for symbol, snapshot in snapshots.items():
        data = snapshot.as_api_dict()
        bar = bars.get(symbol)
        data["bar"] = _bar_dict(bar) if bar is not None else None
        publisher.publish(symbol, data)


def ingest_stats() -> dict[str, int]:
    with _counter_lock:
        return dict(ingest_counters)
