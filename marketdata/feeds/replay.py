"""Replay a CSV of ticks or of OHLC bars (no Django).

Tick files: columns `ts, symbol, last[, bid, ask, volume]`. Bar files: `ts, symbol, open,
high, low, close[, volume]`. `symbol` may be left out when `default_symbol` is given; `ts`
may also be called `time`, `timestamp` or `datetime`; times without an offset are read in
`default_tz` (UTC unless told). Rows are replayed in file order.

A bar becomes four ticks inside its own period — open at its start, then high and low (low
first on an up bar, high first on a down bar), close last, all the volume on the close — so
ingesting them rebuilds exactly the bar the row describes (and any higher interval).

Speed: 1 = real time, 10 = ten times faster, 0 ("max") = as fast as ingest takes them.
`rebase=True` shifts every time so the first row is "now" (used by `make run` so a replay
looks live; bars then form at the replay's pace); the default keeps the file's times.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from marketdata.feeds.base import FeedExhausted, RawTick
from oms_site.values import decimal_or_none

TIME_COLUMNS = ("ts", "time", "timestamp", "datetime", "date")
BAR_OFFSETS = (0.0, 0.25, 0.5, 0.75)  # where in the bar's period its 4 ticks fall


class ReplayRowError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def _parse_time(text: str, default_tz: tzinfo) -> datetime:
    text = text.strip()
    if text.replace(".", "", 1).isdigit():
        seconds = float(text)
        return datetime.fromtimestamp(seconds / 1000 if seconds > 1e11 else seconds, tz=UTC)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    ts = datetime.fromisoformat(text)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=default_tz)
    return ts.astimezone(UTC)


def read_events(
    path: Path | str,
    *,
    default_symbol: str | None = None,
    default_tz: tzinfo = UTC,
    bar_seconds: float = 60.0,
    errors: list[ReplayRowError] | None = None,
) -> Iterator[tuple[datetime, dict[str, Any]]]:
    """(time, raw tick) pairs in file order. Unreadable rows are skipped and appended to
    `errors` (a feed skips and counts bad input; the ingest path validates the rest)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip().lower() for h in reader.fieldnames or []]
        reader.fieldnames = header
        time_col = next((c for c in TIME_COLUMNS if c in header), None)
        if time_col is None:
            raise ValueError(f"{path}: no time column (one of {', '.join(TIME_COLUMNS)}).")
        is_bars = {"open", "high", "low", "close"} <= set(header)
        if not is_bars and "last" not in header:
            raise ValueError(
                f"{path}: needs a `last` column (ticks) or open/high/low/close (bars)."
            )
        for row in reader:
            line = reader.line_num
            try:
                ts = _parse_time(row.get(time_col) or "", default_tz)
                symbol = (row.get("symbol") or default_symbol or "").strip().upper()
                if not symbol:
                    raise ValueError("no symbol")
                if is_bars:
                    yield from _bar_ticks(row, symbol, ts, bar_seconds)
                else:
                    yield (
                        ts,
                        {
                            "symbol": symbol,
                            "last": (row.get("last") or "").strip(),
                            "bid": decimal_or_none(row.get("bid"), blank_is_none=True),
                            "ask": decimal_or_none(row.get("ask"), blank_is_none=True),
                            "volume": _cell_volume(row),
                            "ts": ts,
                        },
                    )
            except (ValueError, InvalidOperation) as exc:
                if errors is not None:
                    errors.append(ReplayRowError(line, str(exc) or type(exc).__name__))


def _cell_volume(row: dict[str, str]) -> Decimal:
    return decimal_or_none(row.get("volume"), blank_is_none=True) or Decimal(0)


def _bar_ticks(
    row: dict[str, str], symbol: str, ts: datetime, bar_seconds: float
) -> Iterator[tuple[datetime, dict[str, Any]]]:
    o, h, low, c = (Decimal((row.get(k) or "").strip()) for k in ("open", "high", "low", "close"))
    volume = _cell_volume(row)
    if not (low <= o <= h and low <= c <= h):
        raise ValueError("open and close must lie between low and high")
    middle = (low, h) if c >= o else (h, low)
    prices = (o, *middle, c)
    for index, (offset, price) in enumerate(zip(BAR_OFFSETS, prices, strict=True)):
        at = ts + timedelta(seconds=bar_seconds * offset)
        yield (
            at,
            {
                "symbol": symbol,
                "last": price,
                "volume": volume if index == 3 else Decimal(0),
                "ts": at,
            },
        )


class ReplayAdapter:
    """A FeedAdapter that paces `read_events` by the file's own clock ÷ `speed`."""

    name = "replay"

    def __init__(
        self,
        path: Path | str,
        *,
        speed: float = 1.0,
        rebase: bool = False,
        default_symbol: str | None = None,
        default_tz: tzinfo = UTC,
        bar_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = Path(path)
        self.speed = speed
        self.rebase = rebase
        self.errors: list[ReplayRowError] = []
        self._kwargs = {
            "default_symbol": default_symbol,
            "default_tz": default_tz,
            "bar_seconds": bar_seconds,
        }
        self._clock, self._now, self._sleep = clock, now, sleep
        self._events: Iterator[tuple[datetime, dict[str, Any]]] | None = None
        self._pending: tuple[datetime, dict[str, Any]] | None = None
        self._first_ts: datetime | None = None
        self._wall_start = 0.0
        self._shift = timedelta(0)
        self._symbols: set[str] = set()

    def connect(self) -> None:
        if self._events is None:  # a replay resumes where it was, never restarts
            self._events = read_events(self.path, errors=self.errors, **self._kwargs)

    def subscribe(self, symbols) -> None:
        self._symbols = {s.upper() for s in symbols}

    def _due_in(self, ts: datetime) -> float:
        if self._first_ts is None:
            self._first_ts = ts
            self._wall_start = self._clock()
            if self.rebase:
                self._shift = self._now() - ts
        if self.speed <= 0:
            return 0.0
        target = self._wall_start + (ts - self._first_ts).total_seconds() / self.speed
        return target - self._clock()

    def receive(self, timeout: float) -> list[RawTick]:
        assert self._events is not None, "connect() first"
        out: list[RawTick] = []
        deadline = self._clock() + timeout
        limit = 5000 if self.speed <= 0 else 1000
        while len(out) < limit:
            if self._pending is None:
                self._pending = next(self._events, None)
                if self._pending is None:
                    if out:
                        return out
                    raise FeedExhausted(str(self.path))
            ts, raw = self._pending
            wait = self._due_in(ts)
            if wait > 0:
                if out:
                    return out
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return out
                self._sleep(min(wait, remaining))
                continue
            self._pending = None
            if self._symbols and raw["symbol"] not in self._symbols:
                continue
            if self._shift:
                stamp = self._now() if self.speed != 1 else raw["ts"] + self._shift
                raw = {**raw, "ts": stamp}
            out.append(raw)
        return out

    def close(self) -> None:
        pass
