"""Instruments, their exchanges' sessions and holidays, latest quotes and 1-minute bars."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from oms_site.fields import PriceField, QtyField


class Exchange(models.Model):
    """A venue's trading session in its own time zone. `SIM` is open 24×7 with no holidays."""

    code = models.CharField(max_length=16, primary_key=True)
    name = models.CharField(max_length=120, blank=True, default="")
    timezone = models.CharField(max_length=64, default="UTC")
    open_time = models.TimeField(null=True, blank=True)
    close_time = models.TimeField(null=True, blank=True)
    always_open = models.BooleanField(default=False)
    trading_weekdays = models.CharField(
        max_length=7, default="01234", help_text="Weekday numbers (Mon=0) the venue trades."
    )
    holiday_calendar = models.CharField(
        max_length=32,
        blank=True,
        default="",
        help_text="Code of the maintained holiday calendar (python-holidays), e.g. XNSE.",
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class ExchangeHoliday(models.Model):
    """Admin-editable closures, on top of (or instead of) the maintained calendar."""

    exchange = models.ForeignKey(Exchange, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["exchange", "date"], name="uniq_exchange_holiday")
        ]

    def __str__(self) -> str:
        return f"{self.exchange_id} {self.date} {self.name}"


class Instrument(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    symbol = models.CharField(max_length=32, unique=True)
    exchange = models.ForeignKey(Exchange, on_delete=models.PROTECT, related_name="instruments")
    name = models.CharField(max_length=200, blank=True, default="")
    currency = models.CharField(max_length=3, default="INR")
    tick_size = PriceField(default=Decimal("0.05"))
    lot_size = QtyField(default=Decimal("1"))
    multiplier = QtyField(default=Decimal("1"))
    price_band_pct = models.DecimalField(
        max_digits=7, decimal_places=3, null=True, blank=True, help_text="Exchange price band."
    )
    tradable = models.BooleanField(default=True)
    # The instrument's name at each real broker, e.g. {"kite": "NSE:INFY", "alpaca": "INFY"};
    # a broker missing here uses `symbol` (Kite: "<exchange code>:<symbol>").
    broker_symbols = models.JSONField(blank=True, default=dict)
    simulate = models.BooleanField(
        default=False, help_text="The simulator feed generates ticks for this instrument."
    )
    sim_start_price = PriceField(null=True, blank=True)
    sim_drift = models.DecimalField(max_digits=10, decimal_places=6, default=Decimal("0"))
    sim_volatility = models.DecimalField(
        max_digits=10, decimal_places=6, default=Decimal("0.30"), help_text="Annualised."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return self.symbol


class Quote(models.Model):
    """The latest applied tick of an instrument plus the day's running figures.

    One row per instrument, written only by `marketdata.services.ticks_ingest` (the row is
    locked for the batch so ticks of one symbol are applied in order). `trading_date` is the
    exchange-local date of `ts`; `volume` is the cumulative volume of that date and
    `prev_close` the last price of the previous trading date seen.
    """

    instrument = models.OneToOneField(
        Instrument, on_delete=models.CASCADE, primary_key=True, related_name="quote"
    )
    symbol = models.CharField(max_length=32, unique=True)
    last = PriceField(null=True, blank=True)
    bid = PriceField(null=True, blank=True)
    ask = PriceField(null=True, blank=True)
    volume = QtyField(default=Decimal("0"))
    ts = models.DateTimeField(null=True, blank=True)
    trading_date = models.DateField(null=True, blank=True)
    day_open = PriceField(null=True, blank=True)
    day_high = PriceField(null=True, blank=True)
    day_low = PriceField(null=True, blank=True)
    prev_close = PriceField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return f"{self.symbol} {self.last} @ {self.ts}"


class Bar(models.Model):
    """A 1-minute OHLCV bar; `ts` is the minute's start (UTC). Higher intervals are derived."""

    id = models.BigAutoField(primary_key=True)
    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="bars")
    ts = models.DateTimeField()
    open = PriceField()
    high = PriceField()
    low = PriceField()
    close = PriceField()
    volume = QtyField(default=Decimal("0"))

    class Meta:
        ordering = ["instrument", "ts"]
        constraints = [
            models.UniqueConstraint(fields=["instrument", "ts"], name="uniq_bar_instrument_ts")
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.ts:%Y-%m-%d %H:%M} {self.close}"


class WatchlistItem(models.Model):
    """One symbol on a user's watchlist (each user has one list, ordered by `position`)."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watchlist_items"
    )
    instrument = models.ForeignKey(
        Instrument, on_delete=models.CASCADE, related_name="watchlist_items"
    )
    position = models.PositiveIntegerField(default=0)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["user", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "instrument"], name="uniq_watchlist_item")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.instrument_id}"
