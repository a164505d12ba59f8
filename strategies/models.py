"""Strategies (a webhook that trades many accounts) and the signals they received.

A Strategy has an owner, a secret (Fernet-encrypted: it must be readable to verify each
signal's HMAC), its accounts with a sizing rule each, order defaults, a trading window in
the exchange's time zone, a direction mode, a max position per symbol and a symbol map.
A Signal is stored before it is answered; its fan-out writes one SignalOutcome per
account, and every order it placed is linked through StrategyOrder (orders' own model is
left as it is).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class DirectionMode(models.TextChoices):
    LONG_ONLY = "long_only", "Long only"
    SHORT_ONLY = "short_only", "Short only"
    BOTH = "both", "Long and short"


class Strategy(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="strategies"
    )
    name = models.CharField(max_length=120)
    secret_encrypted = models.TextField()
    paused = models.BooleanField(default=False)
    # {"order_type": "market"|"limit", "time_in_force", "product",
    #  "take_profit"?: {"ticks"|"pct"|"price": n}, "stop_loss"?: {...}}
    defaults = models.JSONField(default=dict, blank=True)
    symbols = models.JSONField(default=dict, blank=True)  # alert ticker → our symbol
    direction = models.CharField(
        max_length=10, choices=DirectionMode.choices, default=DirectionMode.BOTH
    )
    max_position = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True)
    # Trading window in the exchange's local time; both null = always.
    window_start = models.TimeField(null=True, blank=True)
    window_end = models.TimeField(null=True, blank=True)
    auto_exit = models.BooleanField(default=False)
    rate_limit_per_minute = models.PositiveIntegerField(null=True, blank=True)
    replay_window_seconds = models.PositiveIntegerField(default=60)
    auth_failures = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "strategies"

    def __str__(self) -> str:
        return self.name

    @property
    def has_window(self) -> bool:
        return self.window_start is not None and self.window_end is not None


class StrategyAccount(models.Model):
    """One account of a strategy with its sizing rule (strategies/sizing.py)."""

    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="members")
    account = models.ForeignKey(
        "accounts.TradingAccount", on_delete=models.CASCADE, related_name="+"
    )
    sizing = models.JSONField()
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["strategy", "account"], name="uniq_strategy_account")
        ]

    def __str__(self) -> str:
        return f"{self.strategy_id} → {self.account_id}"


class SignalStatus(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    DONE = "done", "Done"
    REFUSED = "refused", "Refused"


class Signal(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="signals")
    received_at = models.DateTimeField(default=timezone.now)
    # The parsed body as received, without its "secret" (never kept in the log).
    body = models.JSONField(default=dict)
    sender_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    status = models.CharField(
        max_length=8, choices=SignalStatus.choices, default=SignalStatus.ACCEPTED
    )
    reason = models.CharField(max_length=300, blank=True, default="")
    # The first answer, replayed when the sender posts the same id again.
    answer_status = models.PositiveSmallIntegerField(default=202)
    answer_body = models.JSONField(default=dict)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["strategy", "sender_id"], name="uniq_signal_strategy_sender_id"
            )
        ]
        indexes = [
            models.Index(fields=["strategy", "received_at"], name="signal_strategy_received"),
            models.Index(fields=["status", "received_at"], name="signal_status_received"),
        ]

    def __str__(self) -> str:
        return f"signal {self.pk} ({self.status})"


class SignalOutcome(models.Model):
    """What one account did with one signal: the order(s) placed, or why none."""

    signal = models.ForeignKey(Signal, on_delete=models.CASCADE, related_name="outcomes")
    account = models.ForeignKey(
        "accounts.TradingAccount", on_delete=models.CASCADE, related_name="+"
    )
    qty = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True)
    order_ids = models.JSONField(default=list)
    reason = models.CharField(max_length=300, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["signal", "account"], name="uniq_signal_outcome")
        ]

    def __str__(self) -> str:
        return f"{self.signal_id} on {self.account_id}: {self.order_ids or self.reason}"


class StrategyOrder(models.Model):
    """An order placed for a strategy's signal (the blotter shows strategy and signal)."""

    order = models.OneToOneField(
        "orders.Order", on_delete=models.CASCADE, primary_key=True, related_name="strategy_link"
    )
    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="orders")
    signal = models.ForeignKey(Signal, on_delete=models.CASCADE, related_name="orders")
    account = models.ForeignKey(
        "accounts.TradingAccount", on_delete=models.CASCADE, related_name="+"
    )
    symbol = models.CharField(max_length=32)
    # Opened or added to a position (gets the default trailing stop once filled).
    opening = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["strategy", "account", "symbol"], name="strategy_order_working")
        ]

    def __str__(self) -> str:
        return f"order {self.order_id} of signal {self.signal_id}"
