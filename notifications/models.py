"""In-app notifications: one row per recipient, read or not."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class NotificationLevel(models.TextChoices):
    INFO = "info", "Info"
    SUCCESS = "success", "Success"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"


class Notification(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    # The account the notification is about; kept (nulled) if the account ever goes away.
    account = models.ForeignKey(
        "accounts.TradingAccount",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    kind = models.CharField(max_length=64, help_text="Machine name, e.g. order.filled.")
    level = models.CharField(
        max_length=8, choices=NotificationLevel.choices, default=NotificationLevel.INFO
    )
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    # What a burst updates instead of adding to, e.g. "order:<id>" for partial fills.
    group_key = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notif_user_created"),
            models.Index(fields=["user", "read_at"], name="notif_user_read"),
            models.Index(fields=["group_key", "kind"], name="notif_group_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.title} → {self.user}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


# --- Delivery beyond the app: preferences, webhook endpoints, the delivery log ----------


class NotificationEvent(models.TextChoices):
    """The event names of API.md ("Notifications"): fixed, part of the contract."""

    ORDER_FILLED = "order.filled", "Order filled"
    ORDER_PARTIALLY_FILLED = "order.partially_filled", "Order partially filled"
    ORDER_REJECTED = "order.rejected", "Order rejected"
    ORDER_CANCELED = "order.canceled", "Order canceled by the system"
    ORDER_EXPIRED = "order.expired", "Order expired"
    GTT_TRIGGERED = "gtt.triggered", "GTT triggered"
    GTT_REJECTED = "gtt.rejected", "GTT rejected"
    TRIGGER_FIRED = "trigger.fired", "Stop or trailing stop triggered"
    ALGO_FINISHED = "algo.finished", "Algorithm finished"
    RISK_LIMIT_HIT = "risk.limit_hit", "Risk limit hit"
    KILL_SWITCH_CHANGED = "kill_switch.changed", "Kill switch engaged or released"
    BROKER_STATUS_CHANGED = "broker.status_changed", "Broker connection changed"
    RECONCILIATION_DIFFERENCE = "reconciliation.difference", "Reconciliation difference"
    SCHEDULE_RAN = "schedule.ran", "Scheduled order ran"
    SIGNAL_REFUSED = "signal.refused", "Strategy signal refused"


class DeliveryChannel(models.TextChoices):
    IN_APP = "in_app", "In the app"
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"
    CHAT = "chat", "Chat"


class NotificationPreference(models.Model):
    """One user's choice of channels per event; absent events use the defaults
    (notifications/preferences.py)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    channels = models.JSONField(default=dict, blank=True)
    # {"start": "22:00", "end": "07:00", "timezone": "Europe/Berlin"} or null
    quiet_hours = models.JSONField(null=True, blank=True)
    email = models.EmailField(blank=True, default="", help_text="Empty: the account's email.")
    chat_urls = models.JSONField(default=list, blank=True, help_text="apprise URLs.")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Notification preferences of {self.user}"


class WebhookEndpoint(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, blank=True, help_text="Empty: every event.")
    # Fernet token of the signing secret (accounts.crypto): it must be readable to sign.
    secret_encrypted = models.TextField()
    is_active = models.BooleanField(default=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed (quiet hours)"


class Delivery(models.Model):
    """One message of one notification to one channel (and endpoint): the delivery log.

    `key` is the idempotency key (notification × channel × endpoint), also the webhook
    body's `id`: a retry or a second worker never makes a second row or a second message."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key = models.CharField(max_length=120, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_deliveries"
    )
    notification = models.ForeignKey(
        Notification, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(max_length=16, choices=DeliveryChannel.choices)
    event = models.CharField(max_length=64)
    status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="delivery_user_created"),
            models.Index(fields=["status", "next_attempt_at"], name="delivery_status_next"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.event} → {self.user} ({self.status})"
