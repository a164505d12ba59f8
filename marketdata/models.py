"""Instruments, their exchanges' sessions and holidays, latest quotes and 1-minute bars."""

from __future__ import annotations

import uuid
from decimal import Decimal

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
