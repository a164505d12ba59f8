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
    settings = serializers.DictField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Where OMS reaches the broker (base URLs); never secret.",
    )

    class Meta:
        model = BrokerConnection
        fields = [
            "id",
            "name",
            "broker",
            "status",
            "has_credentials",
            "last_checked_at",
            "settings",
        ]
        read_only_fields = fields


class AccountFundsSerializer(serializers.Serializer):
    """Where cash and buying power come from, and how fresh they are."""

    source = serializers.ChoiceField(
        choices=["oms", "broker"],
        help_text="oms: OMS keeps the account's money (paper, exchange); broker: read from it.",
    )
    as_of = UtcDateTimeField(allow_null=True, help_text="When the broker gave these figures.")
    error = serializers.CharField(
        allow_blank=True, help_text="Why the figures may be old or missing, in words; or empty."
    )


class AccountSerializer(serializers.ModelSerializer):
    """context: `roles` {account id: role} (else looked up per account)."""

    id = serializers.CharField(read_only=True)
    cash = serializers.SerializerMethodField()
    starting_cash = _money(read_only=True)
    buying_power = serializers.SerializerMethodField()
    funds = serializers.SerializerMethodField()
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
            "funds",
            "status",
            "starting_cash",
            "created_at",
            "my_role",
            "connection",
        ]
        read_only_fields = fields

    def _funds(self, account: TradingAccount) -> registry.AccountFunds | None:
        # Asked once per account and representation (cash, buying power and funds share it).
        memo = self.context.setdefault("_funds", {})
        key = str(account.pk)
        if key not in memo:
            memo[key] = registry.account_funds(account)
        return memo[key]

    @extend_schema_field(
        DecimalString(allow_null=True, help_text="null: the broker has not answered yet")
    )
    def get_cash(self, account: TradingAccount) -> str | None:
        funds = self._funds(account)
        value = account.cash if funds is None else funds.cash
        return None if value is None else DecimalString().to_representation(value)

    @extend_schema_field(
        DecimalString(allow_null=True, help_text="null: the broker has not answered yet")
    )
    def get_buying_power(self, account: TradingAccount) -> str | None:
        funds = self._funds(account)
        if funds is None:
            value = selectors.account_buying_power(account=account)
        else:
            value = funds.buying_power
        return None if value is None else DecimalString().to_representation(value)

    @extend_schema_field(AccountFundsSerializer)
    def get_funds(self, account: TradingAccount) -> dict[str, Any]:
        funds = self._funds(account)
        if funds is None:
            return {"source": "oms", "as_of": None, "error": ""}
        as_of = UtcDateTimeField().to_representation(funds.as_of) if funds.as_of else None
        return {"source": funds.source, "as_of": as_of, "error": funds.error}

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
    starting_cash = _money(
        min_value=0,
        required=False,
        help_text="Required for paper and exchange; a real broker's cash comes from the broker.",
    )
    currency = serializers.RegexField(
        r"^[A-Z]{3}$",
        required=False,
        help_text="Default: INR, or the broker's currency (alpaca: USD, kite: INR).",
        error_messages={"invalid": "A three-letter ISO code in capitals, e.g. INR."},
    )
    credentials = serializers.DictField(
        required=False,
        write_only=True,
        help_text="Broker login; stored encrypted, never returned. alpaca: key_id, secret_key; "
        "kite: api_key, api_secret, access_token (optional: the daily login sets it).",
    )
    settings = serializers.DictField(
        required=False,
        help_text="Where to reach the broker. alpaca: base_url, stream_url (default: Alpaca "
        "paper); kite: root, ticker_url, login_url (default: Kite's). http(s)/ws(s) URLs only.",
    )

    def to_internal_value(self, data: Any) -> Any:
        # starting_cash is required for accounts whose money OMS keeps (paper, exchange), not
        # for a real broker's: said together with the other fields' errors.
        needs_cash = (
            isinstance(data, dict)
            and data.get("starting_cash") is None
            and not (
                isinstance(data.get("broker"), str)
                and registry.broker_connection_spec(data["broker"]) is not None
            )
        )
        required = {"starting_cash": [serializers.Field.default_error_messages["required"]]}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if needs_cash and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**required, **exc.detail}) from exc
            raise
        if needs_cash:
            raise serializers.ValidationError(required)
        return value

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
