"""Pure trading-session arithmetic (no Django): is a venue open at a moment, when does it
next open, when does a given trading date close.

A session is one open→close window per trading date in the venue's own time zone (e.g.
NSE 09:15–15:30 Asia/Kolkata); overnight sessions are not modelled. A trading date is a
listed weekday that is not a holiday. `always_open` venues (SIM) trade 24×7.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_SEARCH_DAYS = 400  # next_open gives up after this (a venue closed for over a year)


@dataclass(frozen=True)
class TradingSession:
    tz: ZoneInfo
    open_time: time | None = None
    close_time: time | None = None
    weekdays: frozenset[int] = frozenset(range(5))
    always_open: bool = False
    is_holiday: Callable[[date], bool] = field(default=lambda _d: False)

    def is_trading_day(self, day: date) -> bool:
        if self.always_open:
            return True
        return day.weekday() in self.weekdays and not self.is_holiday(day)

    def _bounds(self, day: date) -> tuple[datetime, datetime]:
        """The session window of a trading date, as aware UTC datetimes."""
        start = datetime.combine(day, self.open_time or time(0), tzinfo=self.tz)
        if self.close_time is None:
            end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz)
        else:
            end = datetime.combine(day, self.close_time, tzinfo=self.tz)
        return start.astimezone(UTC), end.astimezone(UTC)

    def is_open(self, at: datetime) -> bool:
        if self.always_open:
            return True
        local_day = at.astimezone(self.tz).date()
        if not self.is_trading_day(local_day):
            return False
        start, end = self._bounds(local_day)
        return start <= at < end  # open at the opening instant, closed at the closing one

    def next_open(self, at: datetime) -> datetime | None:
        """`at` itself when open then, else the start of the next session (UTC)."""
        if self.is_open(at):
            return at.astimezone(UTC)
        day = at.astimezone(self.tz).date()
        for offset in range(MAX_SEARCH_DAYS):
            candidate = day + timedelta(days=offset)
            if not self.is_trading_day(candidate):
                continue
            start, _ = self._bounds(candidate)
            if start >= at:
                return start
        return None

    def session_close(self, on: date) -> datetime | None:
        """When the session of trading date `on` closes (UTC); None if `on` does not trade.

        An always-open venue "closes" each local date at the next local midnight, so day
        orders on it expire once a day.
        """
        if self.always_open:
            return datetime.combine(on + timedelta(days=1), time(0), tzinfo=self.tz).astimezone(UTC)
        if not self.is_trading_day(on):
            return None
        return self._bounds(on)[1]

    def session_open(self, on: date) -> datetime | None:
        if self.always_open:
            return datetime.combine(on, time(0), tzinfo=self.tz).astimezone(UTC)
        if not self.is_trading_day(on):
            return None
        return self._bounds(on)[0]
