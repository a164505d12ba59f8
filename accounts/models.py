"""Users, trading accounts, who may act on them, their risk limits and API keys."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

from oms_site.fields import MoneyField, QtyField


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    DEALER = "dealer", "Dealer"
    TRADER = "trader", "Trader"
    VIEWER = "viewer", "Viewer"


class User(AbstractUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.TRADER)

    @property
    def is_oms_admin(self) -> bool:
        return self.role == Role.ADMIN or self.is_superuser


class BrokerKind(models.TextChoices):
    PAPER = "paper", "Paper (fills against live quotes)"
    EXCHANGE = "exchange", "Internal exchange"
    # Real broker adapters register further kinds in execution/; the column is free text
    # validated against the adapter registry, these are the built-in ones.


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    CLOSED = "closed", "Closed"


# The one table of allowed account status changes (`accounts.services.account_set_status`
# enforces it and writes the audit entry). Closed is final; going back to active is an
# admin-only reactivation.
ACCOUNT_STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    AccountStatus.ACTIVE: frozenset({AccountStatus.SUSPENDED, AccountStatus.CLOSED}),
    AccountStatus.SUSPENDED: frozenset({AccountStatus.ACTIVE, AccountStatus.CLOSED}),
    AccountStatus.CLOSED: frozenset(),
}


class ConnectionStatus(models.TextChoices):
    NOT_REQUIRED = "not_required", "Not required"
    UNKNOWN = "unknown", "Not checked yet"
    CONNECTED = "connected", "Connected"
    DISCONNECTED = "disconnected", "Disconnected"
    SESSION_EXPIRED = "session_expired", "Session expired"
    ERROR = "error", "Error"
    DISABLED = "disabled", "Disabled"


class BrokerConnection(models.Model):
    """How OMS reaches one broker login. Credentials are Fernet tokens, never plaintext."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    broker = models.CharField(max_length=32)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="broker_connections",
    )
    credentials_encrypted = models.TextField(blank=True, default="", editable=False)
    # Where to reach the broker (not secret): Alpaca {"base_url", "stream_url"}, Kite
    # {"root", "ticker_url", "login_url"}; empty means the broker's own defaults.
    settings = models.JSONField(blank=True, default=dict)
    status = models.CharField(
        max_length=16, choices=ConnectionStatus.choices, default=ConnectionStatus.UNKNOWN
    )
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.broker})"

    def __repr__(self) -> str:  # never let credentials reach a log through repr()
        return f"<BrokerConnection {self.pk} {self.broker}>"

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)


class TradingAccount(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    broker = models.CharField(max_length=32, default=BrokerKind.PAPER)
    connection = models.ForeignKey(
        BrokerConnection, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    currency = models.CharField(max_length=3, default="INR")
    starting_cash = MoneyField(default=Decimal("0"))
    cash = MoneyField(default=Decimal("0"))
    status = models.CharField(
        max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    allow_after_market_orders = models.BooleanField(
        default=False, help_text="Queue orders placed outside market hours for the next open."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == AccountStatus.ACTIVE

    def can_transition_to(self, status: str) -> bool:
        return status in ACCOUNT_STATUS_TRANSITIONS.get(self.status, frozenset())


class MembershipRole(models.TextChoices):
    OWNER = "owner", "Owner"
    TRADE = "trade", "Trade"
    VIEW = "view", "View only"


class AccountMembership(models.Model):
    """Who may act on which account. Dealers reach client accounts only through these."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    account = models.ForeignKey(
        TradingAccount, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=8, choices=MembershipRole.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "account"], name="uniq_membership_user_account")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.account} ({self.role})"

    @property
    def can_trade(self) -> bool:
        return self.role in (MembershipRole.OWNER, MembershipRole.TRADE)


class RiskLimits(models.Model):
    """Pre-trade limits of one account. A null limit means no limit."""

    account = models.OneToOneField(
        TradingAccount, primary_key=True, on_delete=models.CASCADE, related_name="risk_limits"
    )
    max_order_value = MoneyField(null=True, blank=True)
    max_order_qty = QtyField(null=True, blank=True)
    max_open_orders = models.PositiveIntegerField(null=True, blank=True)
    max_orders_per_day = models.PositiveIntegerField(null=True, blank=True)
    max_daily_loss = MoneyField(null=True, blank=True)
    price_band_pct = models.DecimalField(max_digits=7, decimal_places=3, null=True, blank=True)
    allowed_symbols = models.JSONField(null=True, blank=True, default=None)
    allow_short = models.BooleanField(default=False)
    kill_switch = models.BooleanField(default=False)
    max_orders_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Per-account order rate limit."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "risk limits"

    def __str__(self) -> str:
        return f"Risk limits of {self.account}"


class GlobalKillSwitch(models.Model):
    """One row: when engaged, no account may send a new order."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    engaged = models.BooleanField(default=False)
    reason = models.CharField(max_length=300, blank=True, default="")
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        # There is one switch: the admin index says so instead of "Global kill switchs".
        verbose_name = "global kill switch"
        verbose_name_plural = "global kill switch"

    def __str__(self) -> str:
        return "Global kill switch: " + ("ENGAGED" if self.engaged else "released")

    @classmethod
    def load(cls) -> GlobalKillSwitch:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj


class ApiKey(models.Model):
    """A secret shown once. Stored as prefix (to find it) + SHA-256 of the whole key."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=120, blank=True, default="")
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now


class AuditLogEntry(models.Model):
    """Append-only record of back-office actions (admin actions, limit changes, keys)."""

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit log"
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.object_type} {self.object_repr}"


class IdempotencyKey(models.Model):
    """An `Idempotency-Key` of any POST, orders' too (API.md: "does the same for any POST"):
    the same caller, key and body replay the stored answer; another body is 409 `conflict`.

    The row is inserted (unique per user + key) before the work runs, so two concurrent
    requests with one key cannot both run. `status_code` null: the first is still in flight.
    """

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    path = models.CharField(max_length=300)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="uniq_accounts_idem_user_key")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status_code})"
