"""The fill ledger. Issue 5 adds lots and positions built from it (FIFO, see pnl/fifo.py)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.utils import timezone

from oms_site.fields import MoneyField, PriceField, QtyField


class FillSide(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


class Liquidity(models.TextChoices):
    MAKER = "maker", "Maker"
    TAKER = "taker", "Taker"


class Fill(models.Model):
    """One execution of an order, exactly as the venue reported it. Append-only.

    `order_id` is a plain UUID, not a foreign key: pnl sits below orders (DESIGN.md) and
    must not import it. `report_id` is the execution report's own id, unique, so a report
    applied twice can never book a second fill.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order_id = models.UUIDField(db_index=True)
    account = models.ForeignKey(
        "accounts.TradingAccount", on_delete=models.PROTECT, related_name="fills"
    )
    instrument = models.ForeignKey(
        "marketdata.Instrument", on_delete=models.PROTECT, related_name="fills"
    )
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4, choices=FillSide.choices)
    qty = QtyField()
    price = PriceField()
    fee = MoneyField(default=Decimal("0"))
    # API.md: "maker" | "taker" | null (a venue that does not say).
    liquidity = models.CharField(  # noqa: DJ001
        max_length=5, choices=Liquidity.choices, null=True, blank=True
    )
    ts = models.DateTimeField(default=timezone.now)
    report_id = models.CharField(max_length=120, unique=True)
    trade_id = models.CharField(max_length=120, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["ts", "created_at", "id"]
        indexes = [
            models.Index(fields=["account", "symbol", "ts"], name="fill_account_symbol_ts"),
            models.Index(fields=["account", "ts"], name="fill_account_ts"),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.qty} {self.symbol} @ {self.price}"

    @property
    def signed_qty(self) -> Decimal:
        return self.qty if self.side == FillSide.BUY else -self.qty
