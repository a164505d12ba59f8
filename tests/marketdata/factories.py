"""Factories for market data tests."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

import factory

from marketdata.models import Exchange, ExchangeHoliday, Instrument


class ExchangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Exchange
        django_get_or_create = ("code",)

    code = "SIM"
    name = "Simulated"
    timezone = "UTC"
    always_open = True
    trading_weekdays = "0123456"


class NseExchangeFactory(ExchangeFactory):
    code = "NSE"
    name = "National Stock Exchange of India"
    timezone = "Asia/Kolkata"
    always_open = False
    open_time = time(9, 15)
    close_time = time(15, 30)
    trading_weekdays = "01234"
    holiday_calendar = "XNSE"


class ExchangeHolidayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExchangeHoliday

    exchange = factory.SubFactory(NseExchangeFactory)
    name = "Closure"


class InstrumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instrument
        django_get_or_create = ("symbol",)

    symbol = factory.Sequence(lambda n: f"SYM{n}")
    exchange = factory.SubFactory(ExchangeFactory)
    name = factory.LazyAttribute(lambda o: f"{o.symbol} Ltd")
    tick_size = Decimal("0.05")
    lot_size = Decimal("1")
    simulate = False
