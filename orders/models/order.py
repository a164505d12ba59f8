"""Orders, their append-only audit trail and held-order triggers (the automation wing's
own tables, GTT and schedules, are orders/models/automation.py).

`Idempotency-Key` answers live in accounts.IdempotencyKey (accounts.idempotency), one
table for every POST of the API.

Every state change of an Order goes through `orders.core.lifecycle.order_transition`, which
checks the allowed-transition table and appends an OrderEvent. Nothing in here has
business logic in save() or signals.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from oms_site.fields import MoneyField, PriceField, QtyField


class OrderSide(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


class OrderType(models.TextChoices):
    MARKET = "market", "Market"
    LIMIT = "limit", "Limit"
    STOP = "stop", "Stop"
    STOP_LIMIT = "stop_limit", "Stop limit"
    TRAILING_STOP = "trailing_stop", "Trailing stop"


# Types OMS holds until a trigger releases them (as market or limit orders).
TRIGGERED_TYPES = frozenset({OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP})


class TimeInForce(models.TextChoices):
    DAY = "day", "Day"
    GTC = "gtc", "Good till cancelled"
    GTD = "gtd", "Good till date"
    IOC = "ioc", "Immediate or cancel"
    FOK = "fok", "Fill or kill"


class OrderClass(models.TextChoices):
    SIMPLE = "simple", "Simple"
    BRACKET = "bracket", "Bracket"
    OCO = "oco", "One cancels other"
    OTO = "oto", "One triggers other"


class Product(models.TextChoices):
    INTRADAY = "intraday", "Intraday"
    DELIVERY = "delivery", "Delivery"


class OrderStatus(models.TextChoices):
    PENDING_NEW = "pending_new", "Pending new"
    NEW = "new", "New"
    HELD = "held", "Held"
    PARTIALLY_FILLED = "partially_filled", "Partially filled"
    FILLED = "filled", "Filled"
    PENDING_CANCEL = "pending_cancel", "Pending cancel"
    CANCELED = "canceled", "Canceled"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"


TERMINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)
OPEN_STATUSES = frozenset(set(OrderStatus.values) - set(TERMINAL_STATUSES))
# Orders a venue is working (or about to): they need a venue cancel/modify.
LIVE_STATUSES = frozenset(
    {
        OrderStatus.PENDING_NEW,
        OrderStatus.NEW,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.PENDING_CANCEL,
    }
)


class HoldReason(models.TextChoices):
    TRIGGER = "trigger", "Waiting for its stop trigger"
    QUEUED_FOR_OPEN = "queued_for_open", "Queued for the market open"
    PARENT = "parent", "Waiting for its parent"


class LegRole(models.TextChoices):
    """How a child order relates to its parent (`Order.parent`)."""

    NONE = "", "—"
    TAKE_PROFIT = "take_profit", "Take-profit leg"
    STOP_LOSS = "stop_loss", "Stop-loss leg"
    SLICE = "slice", "Algo child (slice)"


class AlgoType(models.TextChoices):
    TWAP = "twap", "TWAP"
    VWAP = "vwap", "VWAP"
    ICEBERG = "iceberg", "Iceberg"


class AlgoState(models.TextChoices):
    NONE = "", "—"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    DONE = "done", "Done"
    STOPPED = "stopped", "Stopped"


class Order(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(
        "accounts.TradingAccount", on_delete=models.PROTECT, related_name="orders"
    )
    instrument = models.ForeignKey(
        "marketdata.Instrument", on_delete=models.PROTECT, related_name="orders"
    )
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4, choices=OrderSide.choices)
    type = models.CharField(max_length=16, choices=OrderType.choices)
    qty = QtyField()
    filled_qty = QtyField(default=Decimal("0"))
    # Σ fill qty × fill price: the exact basis of avg_fill_price.
    filled_notional = MoneyField(default=Decimal("0"))
    avg_fill_price = PriceField(null=True, blank=True)
    limit_price = PriceField(null=True, blank=True)
    stop_price = PriceField(null=True, blank=True)
    trail_price = PriceField(null=True, blank=True)
    trail_percent = models.DecimalField(max_digits=9, decimal_places=4, null=True, blank=True)
    time_in_force = models.CharField(max_length=3, choices=TimeInForce.choices)
    expire_at = models.DateTimeField(null=True, blank=True)
    display_qty = QtyField(null=True, blank=True)
    order_class = models.CharField(
        max_length=8, choices=OrderClass.choices, default=OrderClass.SIMPLE
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="legs"
    )
    # take_profit / stop_loss for contingent legs, slice for an algo's child orders.
    leg_role = models.CharField(max_length=12, choices=LegRole.choices, blank=True, default="")
    # The two members of an OCO pair share this id: one filling cancels/resizes the other.
    oco_group = models.UUIDField(null=True, blank=True, db_index=True)
    # A bracket/oto entry's exit legs, created when (and sized to what) the entry fills:
    # {"take_profit": {"limit_price"}, "stop_loss": {"stop_price", "limit_price"?}}.
    leg_spec = models.JSONField(null=True, blank=True)
    # Execution algorithm of a parent order: its parameters and progress (orders/algos.py).
    algo = models.JSONField(null=True, blank=True)
    algo_state = models.CharField(max_length=8, choices=AlgoState.choices, blank=True, default="")
    algo_next_at = models.DateTimeField(null=True, blank=True)
    # The GTT that placed this order.
    gtt = models.ForeignKey(
        "orders.Gtt", null=True, blank=True, on_delete=models.SET_NULL, related_name="placed"
    )
    # Re-entry of a rejected entry: retry up to reentry_max times, re-priced by
    # reentry_ticks ticks each time (towards the market); attempt 0 is the original.
    reentry_max = models.PositiveSmallIntegerField(default=0)
    reentry_ticks = models.PositiveSmallIntegerField(default=0)
    reentry_attempt = models.PositiveSmallIntegerField(default=0)
    reentry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reentries"
    )
    status = models.CharField(
        max_length=16, choices=OrderStatus.choices, default=OrderStatus.PENDING_NEW
    )
    hold_reason = models.CharField(
        max_length=16, choices=HoldReason.choices, blank=True, default=""
    )
    # Why a pending cancel was asked for: "expired" makes the venue's cancel an expiry.
    cancel_reason = models.CharField(max_length=32, blank=True, default="")
    # A modification sent to the venue, applied when its `replaced` report arrives.
    pending_modify = models.JSONField(null=True, blank=True)
    # When the order stops being good: `expire_at` for gtd, the session close for day.
    good_till = models.DateTimeField(null=True, blank=True)
    # Price used to value the order at placement (limit/stop price or the quote): the basis
    # of its buying-power commitment.
    est_price = PriceField(null=True, blank=True)
    event_seq = models.PositiveIntegerField(default=0, editable=False)
    reject_reason = models.CharField(max_length=300, blank=True, default="")
    # NULL, not "": the (account, client_order_id) unique key must ignore orders without one.
    client_order_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    request_hash = models.CharField(max_length=64, blank=True, default="")
    tag = models.CharField(max_length=200, blank=True, default="")
    product = models.CharField(max_length=8, choices=Product.choices, default=Product.DELIVERY)
    broker = models.CharField(max_length=32, blank=True, default="")
    broker_order_id = models.CharField(max_length=120, blank=True, default="")
    # --- kept in step with the broker (orders/core/external.py) ---
    # Placed at the broker outside OMS (its own app, or while OMS was down) and imported.
    external = models.BooleanField(default=False)
    # The broker's id of an imported order when it was first seen: the import's unique key
    # (NULL for OMS's own orders, so the (account, external_ref) key ignores them).
    external_ref = models.CharField(max_length=120, null=True, blank=True)  # noqa: DJ001
    # Broker order ids this order had before a replace (Alpaca's modify is a new broker
    # order), oldest first; broker_order_id is the current one.
    replaced_broker_order_ids = models.JSONField(default=list, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    filled_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "client_order_id"], name="uniq_order_account_client_order_id"
            ),
            models.UniqueConstraint(
                fields=["account", "external_ref"], name="uniq_order_account_external_ref"
            ),
        ]
        indexes = [
            models.Index(fields=["account", "status", "created_at"], name="order_blotter"),
            # Buying power / open sell qty read the open orders of one side on every order
            # placed: without `side` MariaDB picked (account, created_at) and scanned the
            # account's whole history.
            models.Index(fields=["account", "side", "status"], name="order_account_side_open"),
            models.Index(fields=["account", "created_at"], name="order_account_created"),
            models.Index(fields=["symbol", "status"], name="order_symbol_status"),
            models.Index(fields=["status", "updated_at"], name="order_status_updated"),
            models.Index(fields=["status", "good_till"], name="order_status_good_till"),
            models.Index(fields=["algo_state", "algo_next_at"], name="order_algo_due"),
            models.Index(fields=["parent", "leg_role"], name="order_parent_role"),
            # A broker's update for an order placed outside OMS names only the broker's id.
            models.Index(fields=["account", "broker_order_id"], name="order_account_broker_id"),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.qty} {self.symbol} {self.type} ({self.status})"

    # --- predicates ---------------------------------------------------------------
    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def leaves_qty(self) -> Decimal:
        return self.qty - self.filled_qty if not self.is_terminal else Decimal("0")

    def can_cancel(self) -> bool:
        return self.status not in TERMINAL_STATUSES and self.status != OrderStatus.PENDING_CANCEL

    def can_modify(self) -> bool:
        return self.status in (
            OrderStatus.HELD,
            OrderStatus.NEW,
            OrderStatus.PARTIALLY_FILLED,
        )

    @property
    def is_held(self) -> bool:
        return self.status == OrderStatus.HELD

    @property
    def is_algo_parent(self) -> bool:
        return bool(self.algo)

    @property
    def is_slice(self) -> bool:
        return self.leg_role == LegRole.SLICE

    @property
    def venue_type(self) -> str:
        """What a venue works: stops are released as market, stop-limits as limit."""
        if self.type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            return OrderType.LIMIT
        return OrderType.MARKET


class OrderEventType(models.TextChoices):
    CREATED = "created", "Created"
    HELD = "held", "Held"
    QUEUED_FOR_OPEN = "queued_for_open", "Queued for the open"
    TRIGGERED = "triggered", "Triggered"
    RELEASED = "released", "Released"
    SUBMITTED = "submitted", "Submitted"
    ACCEPTED = "accepted", "Accepted by the venue"
    PARTIAL_FILL = "partial_fill", "Partial fill"
    FILL = "fill", "Fill"
    LATE_FILL = "late_fill", "Fill on a closed order"
    MODIFIED = "modified", "Modified"
    MODIFY_REQUESTED = "modify_requested", "Modification sent"
    MODIFY_REJECTED = "modify_rejected", "Modification rejected"
    CANCEL_REQUESTED = "cancel_requested", "Cancel requested"
    CANCEL_REJECTED = "cancel_rejected", "Cancel rejected"
    CANCELED = "canceled", "Canceled"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    STOP_MOVED = "stop_moved", "Trailing stop moved"
    RESUBMITTED = "resubmitted", "Re-sent by the sweeper"
    LEGS_LIVE = "legs_live", "Exit legs went live"
    ALGO_STARTED = "algo_started", "Algorithm started"
    ALGO_PAUSED = "algo_paused", "Algorithm paused"
    ALGO_RESUMED = "algo_resumed", "Algorithm resumed"
    SLICE_PLACED = "slice_placed", "Child order placed"


class OrderEvent(models.Model):
    """Append-only audit trail; `seq` numbers an order's events from 1 without gaps."""

    id = models.BigAutoField(primary_key=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="events")
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=24, choices=OrderEventType.choices)
    at = models.DateTimeField(default=timezone.now)
    # {"type": "user"|"api_key"|"system", "id": str|None, "name": str}
    actor = models.JSONField(default=dict)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["order", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["order", "seq"], name="uniq_order_event_seq")
        ]

    def __str__(self) -> str:
        return f"{self.order_id} #{self.seq} {self.type}"


class ProcessedReport(models.Model):
    """Execution report ids already applied: the key of `order_apply_report`'s idempotency."""

    report_id = models.CharField(max_length=120, primary_key=True)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="reports")
    type = models.CharField(max_length=24)
    applied_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=32, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.report_id} ({self.type})"


class TriggerKind(models.TextChoices):
    STOP = "stop", "Stop"
    TRAILING = "trailing", "Trailing stop"
    GTT = "gtt", "GTT"


class TriggerDirection(models.TextChoices):
    UP = "up", "Fires when last >= price"
    DOWN = "down", "Fires when last <= price"


class TriggerStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    FIRED = "fired", "Fired"
    CANCELED = "canceled", "Canceled"


class Trigger(models.Model):
    """A price trigger: a held order's stop (stop, stop-limit, trailing stop, a contingent
    stop-loss leg) or one leg of a GTT. Ticks find crossed ones by an indexed range query on
    (symbol, status, direction, price); firing is a compare-and-set on `status`."""

    id = models.BigAutoField(primary_key=True)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.CASCADE, related_name="triggers"
    )
    gtt = models.ForeignKey(
        "orders.Gtt", null=True, blank=True, on_delete=models.CASCADE, related_name="triggers"
    )
    # A GTT's leg: 0 = its single/lower trigger, 1 = the upper trigger of an oco.
    leg = models.PositiveSmallIntegerField(default=0)
    symbol = models.CharField(max_length=32)
    kind = models.CharField(max_length=8, choices=TriggerKind.choices, default=TriggerKind.STOP)
    direction = models.CharField(max_length=4, choices=TriggerDirection.choices)
    price = PriceField()
    # Trailing stops: the best price seen (high-water for sells, low-water for buys).
    mark = PriceField(null=True, blank=True)
    trail_price = PriceField(null=True, blank=True)
    trail_percent = models.DecimalField(max_digits=9, decimal_places=4, null=True, blank=True)
    tick_size = PriceField(default=Decimal("0.01"))
    status = models.CharField(
        max_length=8, choices=TriggerStatus.choices, default=TriggerStatus.ACTIVE
    )
    created_at = models.DateTimeField(default=timezone.now)
    fired_at = models.DateTimeField(null=True, blank=True)
    fired_price = PriceField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["symbol", "status", "direction", "price"], name="trigger_crossing"
            ),
            models.Index(
                fields=["symbol", "status", "kind", "direction", "mark"], name="trigger_trailing"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.direction} {self.price} ({self.status})"
