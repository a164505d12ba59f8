"""The automation wing's own tables: GTT instructions (with their audit trail) and
scheduled orders. Their triggers are `Trigger` rows (orders/models/order.py)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from oms_site.fields import PriceField
from orders.models.order import Order


class GttType(models.TextChoices):
    SINGLE = "single", "Single"
    OCO = "oco", "OCO"


class GttStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    TRIGGERED = "triggered", "Triggered"
    CANCELLED = "cancelled", "Cancelled"  # API.md spells it this way for GTTs
    EXPIRED = "expired", "Expired"
    REJECTED = "rejected", "Rejected"
    DISABLED = "disabled", "Disabled"


GTT_FINAL = frozenset(
    {
        GttStatus.TRIGGERED,
        GttStatus.CANCELLED,
        GttStatus.EXPIRED,
        GttStatus.REJECTED,
        GttStatus.DISABLED,
    }
)


class Gtt(models.Model):
    """A good-till-triggered instruction: one (single) or two (oco) price triggers, each
    with the order it places. Its triggers are `Trigger` rows of kind `gtt`; a trigger's
    direction comes from the last price when the GTT was created (or last modified)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(
        "accounts.TradingAccount", on_delete=models.PROTECT, related_name="gtts"
    )
    instrument = models.ForeignKey(
        "marketdata.Instrument", on_delete=models.PROTECT, related_name="gtts"
    )
    symbol = models.CharField(max_length=32)
    trigger_type = models.CharField(max_length=8, choices=GttType.choices)
    # Decimal strings, lower first for oco.
    trigger_values = models.JSONField(default=list)
    # [{"side", "qty", "type", "limit_price", "product"}], one per trigger, same order.
    orders = models.JSONField(default=list)
    last_price = PriceField()
    status = models.CharField(max_length=10, choices=GttStatus.choices, default=GttStatus.ACTIVE)
    reason = models.CharField(max_length=300, blank=True, default="")
    order_ids = models.JSONField(default=list, blank=True)
    triggered_leg = models.PositiveSmallIntegerField(null=True, blank=True)
    triggered_price = PriceField(null=True, blank=True)
    tag = models.CharField(max_length=200, blank=True, default="")
    expires_at = models.DateTimeField()
    triggered_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    event_seq = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "GTT"
        verbose_name_plural = "GTTs"
        indexes = [
            models.Index(fields=["account", "status", "created_at"], name="gtt_account_status"),
            models.Index(fields=["status", "expires_at"], name="gtt_status_expires"),
        ]

    def __str__(self) -> str:
        return f"GTT {self.trigger_type} {self.symbol} {self.trigger_values} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status == GttStatus.ACTIVE


class GttEvent(models.Model):
    """A GTT's status history (append-only; `seq` from 1 without gaps)."""

    id = models.BigAutoField(primary_key=True)
    gtt = models.ForeignKey(Gtt, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=16)
    at = models.DateTimeField(default=timezone.now)
    actor = models.JSONField(default=dict)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["gtt", "seq"]
        constraints = [models.UniqueConstraint(fields=["gtt", "seq"], name="uniq_gtt_event_seq")]

    def __str__(self) -> str:
        return f"{self.gtt_id} #{self.seq} {self.type}"


# --- scheduled orders -------------------------------------------------------------------------


class ScheduleKind(models.TextChoices):
    ONCE = "once", "Once, at a time"
    CRON = "cron", "On a cron schedule"


class ScheduledOrder(models.Model):
    """An order template placed at a time or on a cron schedule. Each row owns one
    django-celery-beat PeriodicTask (kept in step by orders.automation.scheduled)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    account = models.ForeignKey(
        "accounts.TradingAccount", on_delete=models.CASCADE, related_name="scheduled_orders"
    )
    # The order body as POST /api/v1/orders takes it (without account / client_order_id).
    order = models.JSONField(default=dict)
    kind = models.CharField(max_length=4, choices=ScheduleKind.choices, default=ScheduleKind.ONCE)
    run_at = models.DateTimeField(null=True, blank=True)
    # "minute hour day-of-month month day-of-week", e.g. "15 9 * * 1-5"
    cron = models.CharField(max_length=100, blank=True, default="")
    # The zone `cron` is read in (IANA name).
    tz = models.CharField(max_length=64, default="UTC")
    enabled = models.BooleanField(default=True)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    run_count = models.PositiveIntegerField(default=0)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_error = models.CharField(max_length=300, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name
