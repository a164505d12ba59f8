"""Pure OHLCV helpers (no Django): roll ticks into 1-minute bars, derive higher intervals.

Bars are keyed by the start of their period, in UTC. Intervals below a day are aligned to
multiples of their length since the Unix epoch (5m bars start at :00, :05, …; 1h bars on
the UTC hour); `1d` bars start at the exchange-local midnight, so a day's bar covers one
trading date whatever the exchange's time zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal

INTERVALS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class OHLCV:
    ts: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    def add(self, price: Decimal, volume: Decimal) -> None:
        """Merge a later trade into this bar."""
        if price > self.high:
            self.high = price
        if price < self.low:
            self.low = price
        self.close = price
        self.volume += volume

    def merge(self, later: OHLCV) -> None:
        """Merge a later bar of the same period (e.g. a 1m bar into its 5m bar)."""
        if later.high > self.high:
            self.high = later.high
        if later.low < self.low:
            self.low = later.low
        self.close = later.close
        self.volume += later.volume

    def as_dict(self) -> dict:
        return {
            "ts": self.ts,
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": self.volume,
        }


def minute_floor(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(second=0, microsecond=0)


def period_start(ts: datetime, interval: str, *, tz: tzinfo = UTC) -> datetime:
    """Start (UTC) of the `interval` period containing `ts`."""
    step = INTERVALS[interval]
    if interval == "1d":
        local = ts.astimezone(tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight.astimezone(UTC)
    ts = ts.astimezone(UTC)
    offset = (ts - _EPOCH) // step
    return _EPOCH + offset * step


class MinuteBarRoller:
    """Rolls an ordered stream of trades into 1-minute bars, keyed by (key, minute)."""

    def __init__(self) -> None:
        self.bars: dict[tuple[object, datetime], OHLCV] = {}

    def add(self, key: object, ts: datetime, price: Decimal, volume: Decimal) -> OHLCV:
        minute = minute_floor(ts)
        bar = self.bars.get((key, minute))
        if bar is None:
            bar = OHLCV(minute, price, price, price, price, volume)
            self.bars[(key, minute)] = bar
        else:
            bar.add(price, volume)
        return bar


def aggregate(bars: Iterable[OHLCV], interval: str, *, tz: tzinfo = UTC) -> Iterator[OHLCV]:
    """Derive `interval` bars from time-ordered 1-minute bars (one instrument)."""
    current: OHLCV | None = None
    for bar in bars:
        start = period_start(bar.ts, interval, tz=tz)
        if current is not None and current.ts == start:
            current.merge(bar)
            continue
        if current is not None:
            yield current
        current = OHLCV(start, bar.open, bar.high, bar.low, bar.close, bar.volume)
    if current is not None:
        yield current
