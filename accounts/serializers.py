"""API shapes of accounts (API.md). Input serializers parse types; services enforce the rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import registry, selectors
from accounts.models import AccountStatus, ApiKey, BrokerConnection, RiskLimits, TradingAccount
from accounts.risk_services import INT_LIMIT_MAX, RISK_LIMIT_FIELDS
from oms_site.api import DecimalString, StrictFieldsMixin, UtcDateTimeField, WholeNumberField


class StrictCharField(serializers.CharField):
    """A string, and only a string (DRF's CharField would turn 5 into "5")."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def _money(**kwargs: Any) -> DecimalString:
    return DecimalString(max_digits=24, decimal_places=8, **kwargs)


# --- Accounts ---------------------------------------------------------------------------
class ConnectionSummarySerializer(serializers.ModelSerializer):
    """A broker connection without its secrets."""

    id = serializers.CharField(read_only=True)
    has_credentials = serializers.BooleanField(read_only=True)
    last_checked_at = UtcDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = BrokerConnection
        fields = ["id", "name", "status", "has_credentials", "last_checked_at"]
        read_only_fields = fields


class AccountSerializer(serializers.ModelSerializer):
    """context: `roles` {account id: role} (else looked up per account)."""

    id = serializers.CharField(read_only=True)
    cash = _money(read_only=True)
    starting_cash = _money(read_only=True)
    buying_power = serializers.SerializerMethodField()
    my_role = serializers.SerializerMethodField()
    connection = ConnectionSummarySerializer(read_only=True, allow_null=True)
    created_at = UtcDateTimeField(read_only=True)

    class Meta:
        model = TradingAccount
        fields = [
            "id",
            "name",
            "broker",
            "currency",
            "cash",
            "buying_power",
            "status",
            "starting_cash",
            "created_at",
            "my_role",
            "connection",
        ]
        read_only_fields = fields

    @extend_schema_field(DecimalString())
    def get_buying_power(self, account: TradingAccount) -> str:
        return DecimalString().to_representation(selectors.account_buying_power(account=account))

    @extend_schema_field(
        serializers.CharField(allow_null=True, help_text="owner | trade | view (admins: owner)")
    )
    def get_my_role(self, account: TradingAccount) -> str | None:
        roles = self.context.get("roles")
        if roles is not None:
            return roles.get(str(account.pk))
        request = self.context.get("request")
        if request is None:
            return None
        return selectors.membership_role(user=request.user, account=account)


class AccountCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=120)
    broker = serializers.CharField(
        max_length=32, help_text="A known broker kind: paper, exchange, or a registered adapter."
    )
    starting_cash = _money(min_value=0)
    currency = serializers.RegexField(
        r"^[A-Z]{3}$",
        required=False,
        default="INR",
        error_messages={"invalid": "A three-letter ISO code in capitals, e.g. INR."},
    )
    credentials = serializers.DictField(
        required=False, write_only=True, help_text="Broker login; stored encrypted, never returned."
    )

    def validate_broker(self, value: str) -> str:
        kinds = registry.broker_kinds()
        if value not in kinds:
            raise serializers.ValidationError(f"Unknown broker kind; known: {', '.join(kinds)}.")
        return value


class AccountUpdateSerializer(StrictFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    status = serializers.ChoiceField(choices=AccountStatus.values, required=False)


# --- Risk limits ------------------------------------------------------------------------
class RiskLimitsSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    max_order_value = _money(min_value=0, allow_null=True, required=False)
    max_order_qty = DecimalString(
        max_digits=20, decimal_places=8, min_value=0, allow_null=True, required=False
    )
    max_daily_loss = _money(min_value=0, allow_null=True, required=False)
    price_band_pct = DecimalString(
        max_digits=7,
        decimal_places=3,
        min_value=0,
        max_value=100,
        allow_null=True,
        required=False,
    )
    max_open_orders = WholeNumberField(
        min_value=0, max_value=INT_LIMIT_MAX, allow_null=True, required=False
    )
    max_orders_per_day = WholeNumberField(
        min_value=0, max_value=INT_LIMIT_MAX, allow_null=True, required=False
    )
    max_orders_per_minute = WholeNumberField(
        min_value=0, max_value=INT_LIMIT_MAX, allow_null=True, required=False
    )
    allowed_symbols = serializers.ListField(
        child=StrictCharField(max_length=32),
        allow_null=True,
        allow_empty=True,
        required=False,
        help_text="Only these symbols may be traded; null means any.",
    )
    allow_short = serializers.BooleanField(required=False)
    kill_switch = serializers.BooleanField(required=False)

    class Meta:
        model = RiskLimits
        fields = list(RISK_LIMIT_FIELDS)


# --- API keys ---------------------------------------------------------------------------
class ApiKeySerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    created_at = UtcDateTimeField(read_only=True)
    last_used_at = UtcDateTimeField(read_only=True, allow_null=True)
    expires_at = UtcDateTimeField(read_only=True, allow_null=True)
    revoked_at = UtcDateTimeField(read_only=True, allow_null=True)
    scopes = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
            "scopes",
        ]
        read_only_fields = fields


class ApiKeyIssuedSerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The secret. Shown once, never again.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiKeyCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=120)
    expires_at = UtcDateTimeField(required=False, allow_null=True)

    def validate_expires_at(self, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Must be in the future.")
        return value


# --- Me ---------------------------------------------------------------------------------
class MeAccountSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    role = serializers.CharField(help_text="owner | trade | view (admins: owner)")


class MeSerializer(serializers.Serializer):
    id = serializers.CharField()
    username = serializers.CharField()
    email = serializers.CharField(help_text="an e-mail address, or empty")
    role = serializers.CharField(help_text="admin | dealer | trader | viewer")
    accounts = MeAccountSerializer(many=True)
