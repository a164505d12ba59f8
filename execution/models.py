"""The venue side of execution: what the paper broker and the internal exchange know.

These rows are the venues' own records, independent of orders/ (execution never imports it):
`VenueOrder` is an order as a venue works it, `VenueFill` every execution on a venue (the
reconciliation positions are summed from it), `VenueReport` every execution report a venue
produced (so a re-submission returns the same report ids instead of new ones), `VenueCommand`
the internal exchange's command log (its unique id makes a re-delivered task a no-op) and
`ShardLease` the single-writer lease of one exchange shard.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone

from oms_site.fields import MoneyField, PriceField, QtyField


class Venue:
    PAPER = "paper"
    EXCHANGE = "exchange"
    CHOICES = ((PAPER, "Paper"), (EXCHANGE, "Internal exchange"))


class VenueOrderStatus:
    PENDING = "pending"  # exchange: accepted, its "new" command not processed yet
    OPEN = "open"  # working at the venue (resting in the book / waiting for a crossing tick)
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"

    OPEN_STATES = (PENDING, OPEN)
    TERMINAL = (FILLED, CANCELED, REJECTED)
    CHOICES = (
        (PENDING, "Pending"),
        (OPEN, "Open"),
        (FILLED, "Filled"),
        (CANCELED, "Canceled"),
        (REJECTED, "Rejected"),
    )


class VenueOrder(models.Model):
    """One order as the venue works it. `order_id` is OMS's id (the orders app's Order.id)."""

    order_id = models.CharField(max_length=64, primary_key=True)
    venue = models.CharField(max_length=16, choices=Venue.CHOICES)
    account_id = models.CharField(max_length=64)
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4)  # buy | sell
    type = models.CharField(max_length=8)  # market | limit
    qty = QtyField()
    filled_qty = QtyField(default=Decimal("0"))
    # What is shown in the book now (an iceberg's current slice; the whole remainder otherwise).
    visible_qty = QtyField(default=Decimal("0"))
    limit_price = PriceField(null=True, blank=True)
    tif = models.CharField(max_length=4)
    display_qty = QtyField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=VenueOrderStatus.CHOICES, default=VenueOrderStatus.PENDING
    )
    # Time priority on the exchange (lower = earlier within a price level), renewed when the
    # order loses priority. The book is rebuilt by loading open orders in this order.
    seq = models.BigIntegerField(default=0)
    # Bumped on every change so a concurrent writer can compare-and-set (paper tick fills).
    rev = models.PositiveIntegerField(default=0)
    avg_fill_price = PriceField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "order_id"]
        indexes = [
            # Crossed paper orders of a tick: (venue, symbol, status, side) equal, price range.
            models.Index(
                fields=["venue", "symbol", "status", "side", "limit_price"],
                name="venueorder_cross_idx",
            ),
            # Book rebuild / depth: open orders of a symbol in priority order.
            models.Index(fields=["venue", "symbol", "status", "seq"], name="venueorder_book_idx"),
            models.Index(fields=["venue", "account_id", "status"], name="venueorder_account_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.venue}:{self.order_id} {self.side} {self.qty} {self.symbol}"

    @property
    def leaves_qty(self) -> Decimal:
        return self.qty - self.filled_qty

    @property
    def is_open(self) -> bool:
        return self.status in VenueOrderStatus.OPEN_STATES

    @property
    def display_status(self) -> str:
        """The status as a reconciliation view states it (partially_filled for a part-fill)."""
        if self.status == VenueOrderStatus.OPEN:
            return "partially_filled" if self.filled_qty else "new"
        if self.status == VenueOrderStatus.PENDING:
            return "pending_new"
        return self.status


class VenueFill(models.Model):
    """One execution of one order at a venue (each trade on the exchange is two rows)."""

    id = models.CharField(max_length=64, primary_key=True)  # = the fill report's report_id
    venue = models.CharField(max_length=16, choices=Venue.CHOICES)
    order_id = models.CharField(max_length=64)
    account_id = models.CharField(max_length=64)
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4)
    qty = QtyField()
    price = PriceField()
    fee = MoneyField(default=Decimal("0"))
    liquidity = models.CharField(max_length=5)  # maker | taker
    trade_id = models.CharField(max_length=64, blank=True, default="")
    ts = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["ts", "id"]
        indexes = [
            models.Index(fields=["venue", "account_id", "symbol"], name="venuefill_position_idx"),
            models.Index(fields=["order_id"], name="venuefill_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.venue} {self.side} {self.qty} {self.symbol} @ {self.price}"


class VenueReport(models.Model):
    """Every execution report a venue produced, in order (payload = the report's fields)."""

    report_id = models.CharField(max_length=64, primary_key=True)
    order_id = models.CharField(max_length=64, db_index=True)
    venue = models.CharField(max_length=16, choices=Venue.CHOICES)
    type = models.CharField(max_length=16)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "report_id"]

    def __str__(self) -> str:
        return f"{self.type} {self.order_id}"


class CommandKind:
    NEW = "new"
    MODIFY = "modify"
    CANCEL = "cancel"
    CHOICES = ((NEW, "New"), (MODIFY, "Modify"), (CANCEL, "Cancel"))


class CommandStatus:
    PENDING = "pending"
    DONE = "done"
    CHOICES = ((PENDING, "Pending"), (DONE, "Done"))


class VenueCommand(models.Model):
    """A command for the internal exchange. Marked done in the same transaction as its effects,
    so a re-delivered task finds it done and changes nothing (never fills twice)."""

    id = models.CharField(max_length=40, primary_key=True)
    shard = models.PositiveSmallIntegerField()
    symbol = models.CharField(max_length=32)
    kind = models.CharField(max_length=8, choices=CommandKind.CHOICES)
    order_id = models.CharField(max_length=64)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=8, choices=CommandStatus.CHOICES, default=CommandStatus.PENDING
    )
    result = models.CharField(max_length=200, blank=True, default="")
    fencing_token = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["status", "shard", "created_at"], name="venuecommand_pending_idx"),
            models.Index(fields=["order_id"], name="venuecommand_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.order_id} ({self.status})"


class ShardLease(models.Model):
    """Who may write one exchange shard's books. Taken with a row lock (select_for_update);
    `fencing_token` grows on every change of owner, and every command transaction re-checks
    owner and token under the same row lock, so a stale holder can never commit."""

    shard = models.PositiveSmallIntegerField(primary_key=True)
    owner = models.CharField(max_length=200, blank=True, default="")
    fencing_token = models.BigIntegerField(default=0)
    # A fresh random value per acquisition: a holder whose row vanished or was re-created
    # (restored backup, rolled-back test) can never mistake the new lease for its own.
    epoch = models.CharField(max_length=32, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    acquired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["shard"]

    def __str__(self) -> str:
        return f"shard {self.shard}: {self.owner or 'free'} (token {self.fencing_token})"


class BrokerOrder(models.Model):
    """An order at a real broker (Kite) as OMS last saw it: the link between OMS's order id,
    the tag we sent and the broker's order id, and the last state turned into reports, so a
    repeated or older update (ticker, postback, polling) changes nothing.

    `order_id` is "" for an order placed outside OMS (the broker's own app); its `client_ref`
    is then "ext-<broker order id>" so (broker, account_id, client_ref) stays unique.
    """

    broker = models.CharField(max_length=16)
    account_id = models.CharField(max_length=64)
    client_ref = models.CharField(max_length=40)  # Kite: the order's `tag`
    order_id = models.CharField(max_length=64, blank=True, default="")
    broker_order_id = models.CharField(max_length=64, blank=True, default="")
    symbol = models.CharField(max_length=32, blank=True, default="")
    status = models.CharField(max_length=40, blank=True, default="")  # the broker's own word
    qty = QtyField(default=Decimal("0"))
    filled_qty = QtyField(default=Decimal("0"))
    limit_price = PriceField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["broker", "account_id", "client_ref"], name="uniq_broker_order_ref"
            )
        ]
        indexes = [
            models.Index(fields=["broker", "broker_order_id"], name="brokerorder_broker_id_idx"),
            models.Index(fields=["order_id"], name="brokerorder_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.broker}:{self.broker_order_id or self.client_ref} {self.status}"
