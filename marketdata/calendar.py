"""Trading calendar of the exchanges in the DB: sessions plus holidays.

Holidays = the maintained python-holidays financial calendar named by
`Exchange.holiday_calendar` (e.g. "XNSE") when the library knows it, plus the admin-editable
`ExchangeHoliday` rows (use those for exchanges the library does not know, or for
unscheduled closures). Orders use `is_market_open`, `next_open` and `session_close`.
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from marketdata.models import Exchange, ExchangeHoliday, Instrument
from marketdata.sessions import TradingSession
from oms_site.errors import NotFound

logger = logging.getLogger(__name__)

ExchangeRef = Instrument | Exchange | str


@functools.lru_cache(maxsize=64)
def _maintained_calendar(code: str) -> holidays.HolidayBase | None:
    """python-holidays' calendar for a market code, or None if it does not know the code."""
    if not code:
        return None
    try:
        return holidays.financial_holidays(code)
    except NotImplementedError:
        logger.warning("No maintained holiday calendar %r; using the admin table only", code)
        return None


def maintained_calendar_known(code: str) -> bool:
    return _maintained_calendar(code) is not None


def _exchange_of(ref: ExchangeRef) -> Exchange:
    if isinstance(ref, Exchange):
        return ref
    if isinstance(ref, Instrument):
        return ref.exchange
    exchange = Exchange.objects.filter(code=str(ref).upper()).first()
    if exchange is None:
        raise NotFound(f"Exchange {ref!r} does not exist.")
    return exchange


def _zone(exchange: Exchange) -> ZoneInfo:
    try:
        return ZoneInfo(exchange.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        logger.error("Exchange %s has an unknown time zone %r", exchange.code, exchange.timezone)
        return ZoneInfo("UTC")


def trading_session(ref: ExchangeRef, *, around: date | None = None) -> TradingSession:
    """The session of an exchange with its holidays loaded for ~13 months from `around`."""
    exchange = _exchange_of(ref)
    tz = _zone(exchange)
    if exchange.always_open:
        return TradingSession(tz=tz, always_open=True)
    start = (around or datetime.now(UTC).date()) - timedelta(days=2)
    admin_days = set(
        ExchangeHoliday.objects.filter(
            exchange=exchange, date__gte=start, date__lte=start + timedelta(days=400)
        ).values_list("date", flat=True)
    )
    maintained = _maintained_calendar(exchange.holiday_calendar)

    def is_holiday(day: date) -> bool:
        if start <= day <= start + timedelta(days=400):
            if day in admin_days:
                return True
        elif ExchangeHoliday.objects.filter(exchange=exchange, date=day).exists():
            return True
        return maintained is not None and day in maintained

    weekdays = frozenset(int(c) for c in exchange.trading_weekdays if c.isdigit())
    return TradingSession(
        tz=tz,
        open_time=exchange.open_time,
        close_time=exchange.close_time,
        weekdays=weekdays,
        always_open=False,
        is_holiday=is_holiday,
    )


def is_market_open(*, instrument_or_exchange: ExchangeRef, at: datetime) -> bool:
    return trading_session(instrument_or_exchange, around=at.date()).is_open(at)


def next_open(*, instrument_or_exchange: ExchangeRef, at: datetime) -> datetime | None:
    """`at` if the market is open then, else the next session's opening time (UTC).

    None only if no session opens within ~400 days (a misconfigured exchange).
    """
    return trading_session(instrument_or_exchange, around=at.date()).next_open(at)


def session_close(*, instrument_or_exchange: ExchangeRef, on: date) -> datetime | None:
    """Closing time (UTC) of trading date `on` (exchange-local); None when `on` is closed.

    For an always-open exchange (SIM): the next local midnight, so day orders expire daily.
    """
    return trading_session(instrument_or_exchange, around=on).session_close(on)


def session_open(*, instrument_or_exchange: ExchangeRef, on: date) -> datetime | None:
    return trading_session(instrument_or_exchange, around=on).session_open(on)


def trading_date(*, instrument_or_exchange: ExchangeRef, at: datetime) -> date:
    """The exchange-local calendar date of `at`."""
    return at.astimezone(_zone(_exchange_of(instrument_or_exchange))).date()
