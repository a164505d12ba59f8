"""Trading calendar: sessions, weekends, maintained and admin holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from marketdata.calendar import is_market_open, next_open, session_close
from marketdata.sessions import TradingSession
from tests.marketdata.factories import ExchangeHolidayFactory, NseExchangeFactory

IST = ZoneInfo("Asia/Kolkata")


def ist(y, m, d, hh, mm):
    return datetime(y, m, d, hh, mm, tzinfo=IST)


# --- pure core -------------------------------------------------------------------------


def test_a_session_is_open_from_its_open_up_to_its_close():
    # given a 09:15–15:30 IST weekday session
    s = TradingSession(tz=IST, open_time=time(9, 15), close_time=time(15, 30))
    # then (Wed 2026-03-04) it opens at 09:15 sharp and is closed at 15:30 sharp
    assert not s.is_open(ist(2026, 3, 4, 9, 14))
    assert s.is_open(ist(2026, 3, 4, 9, 15))
    assert s.is_open(ist(2026, 3, 4, 15, 29))
    assert not s.is_open(ist(2026, 3, 4, 15, 30))


def test_a_weekend_is_closed_and_next_open_is_monday_morning():
    s = TradingSession(tz=IST, open_time=time(9, 15), close_time=time(15, 30))
    saturday_noon = ist(2026, 3, 7, 12, 0)
    assert not s.is_open(saturday_noon)
    assert s.next_open(saturday_noon) == ist(2026, 3, 9, 9, 15).astimezone(UTC)
    assert s.session_close(date(2026, 3, 7)) is None


def test_always_open_sessions_never_close_but_roll_the_day_at_midnight():
    s = TradingSession(tz=ZoneInfo("UTC"), always_open=True)
    sunday = datetime(2026, 3, 8, 3, 0, tzinfo=UTC)
    assert s.is_open(sunday)
    assert s.next_open(sunday) == sunday
    assert s.session_close(date(2026, 3, 8)) == datetime(2026, 3, 9, tzinfo=UTC)


# --- exchanges in the DB ------------------------------------------------------------------


@pytest.mark.django_db
def test_nse_is_open_on_a_normal_weekday_session():
    nse = NseExchangeFactory()
    assert is_market_open(instrument_or_exchange=nse, at=ist(2026, 3, 4, 11, 0))
    assert not is_market_open(instrument_or_exchange=nse, at=ist(2026, 3, 4, 16, 0))
    assert session_close(instrument_or_exchange=nse, on=date(2026, 3, 4)) == ist(
        2026, 3, 4, 15, 30
    ).astimezone(UTC)


@pytest.mark.django_db
def test_nse_is_closed_on_a_weekend():
    nse = NseExchangeFactory()
    assert not is_market_open(instrument_or_exchange="NSE", at=ist(2026, 3, 8, 11, 0))
    assert next_open(instrument_or_exchange=nse, at=ist(2026, 3, 8, 11, 0)) == ist(
        2026, 3, 9, 9, 15
    ).astimezone(UTC)


@pytest.mark.django_db
def test_nse_is_closed_on_a_holiday_of_the_maintained_calendar():
    # given NSE with the XNSE calendar; 2025-08-15 (Independence Day) is a Friday
    nse = NseExchangeFactory()
    independence_day = ist(2025, 8, 15, 11, 0)
    # then it is closed all day and the next session is Monday's
    assert not is_market_open(instrument_or_exchange=nse, at=independence_day)
    assert session_close(instrument_or_exchange=nse, on=date(2025, 8, 15)) is None
    assert next_open(instrument_or_exchange=nse, at=independence_day) == ist(
        2025, 8, 18, 9, 15
    ).astimezone(UTC)


@pytest.mark.django_db
def test_an_admin_holiday_closes_the_exchange():
    # given an unscheduled closure entered in the admin table on a Wednesday
    nse = NseExchangeFactory()
    ExchangeHolidayFactory(exchange=nse, date=date(2026, 3, 4), name="Exchange outage")
    # then it is closed that day, open the next
    assert not is_market_open(instrument_or_exchange=nse, at=ist(2026, 3, 4, 11, 0))
    assert is_market_open(instrument_or_exchange=nse, at=ist(2026, 3, 5, 11, 0))


@pytest.mark.django_db
def test_an_exchange_unknown_to_the_library_uses_the_admin_table_only():
    # given an exchange whose calendar code python-holidays does not know
    nse = NseExchangeFactory(code="XYZ", holiday_calendar="NOT-A-MARKET")
    ExchangeHolidayFactory(exchange=nse, date=date(2025, 8, 14))
    # then only the admin holiday closes it (Independence Day is not known here)
    assert not is_market_open(instrument_or_exchange=nse, at=ist(2025, 8, 14, 11, 0))
    assert is_market_open(instrument_or_exchange=nse, at=ist(2025, 8, 15, 11, 0))


@pytest.mark.django_db
def test_the_sim_exchange_is_always_open(acme):
    assert is_market_open(instrument_or_exchange=acme, at=datetime(2026, 3, 8, 2, 0, tzinfo=UTC))
