"""Shapes of strategies and signals (API.md § Strategies and signals). Input is checked
here for types; the rules (accounts the owner may trade, sizing, symbols) live in the
services."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from oms_site.api import DecimalString, UtcDateTimeField
from strategies.defaults import ORDER_TYPES, PRODUCTS, TIMES_IN_FORCE
from strategies.models import DirectionMode, Signal, SignalStatus, Strategy
from strategies.sizing import RULE_FIELDS


class _Strict(serializers.Serializer):
    """Unknown keys are a 400 naming them, nested objects included."""

    rejects_unknown_fields = True  # the schema says so (oms_site.schema)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


def _amount(**kwargs: Any) -> DecimalString:
    return DecimalString(max_digits=20, decimal_places=8, min_value=0, **kwargs)


class SizingSerializer(_Strict):
    """One of: fixed_qty {qty} | fixed_value {value} | equity_pct {pct} | risk_pct {pct} |
    multiplier {factor}; optional min_qty/max_qty; rounded down to the lot size."""

    type = serializers.ChoiceField(choices=list(RULE_FIELDS))
    qty = _amount(required=False)
    value = _amount(required=False)
    pct = _amount(required=False)
    factor = _amount(required=False)
    min_qty = _amount(required=False, allow_null=True)
    max_qty = _amount(required=False, allow_null=True)


class StrategyAccountSerializer(_Strict):
    account = serializers.CharField(max_length=64)
    sizing = SizingSerializer()


class OffsetSerializer(_Strict):
    """Exactly one of ticks, pct or price (an absolute level)."""

    ticks = _amount(required=False)
    pct = _amount(required=False)
    price = _amount(required=False)


class TrailingSerializer(_Strict):
    """Exactly one of trail_percent or trail_price."""

    trail_percent = _amount(required=False)
    trail_price = _amount(required=False)


class DefaultsSerializer(_Strict):
    order_type = serializers.ChoiceField(choices=list(ORDER_TYPES), required=False)
    time_in_force = serializers.ChoiceField(choices=list(TIMES_IN_FORCE), required=False)
    product = serializers.ChoiceField(choices=list(PRODUCTS), required=False)
    take_profit = OffsetSerializer(required=False, allow_null=True)
    stop_loss = OffsetSerializer(required=False, allow_null=True)
    trailing = TrailingSerializer(
        required=False,
        allow_null=True,
        help_text="A trailing stop for an opening order once it has filled.",
    )


class StrategyInputSerializer(_Strict):
    """POST (all but name and accounts optional) and PATCH (all optional) of a strategy."""

    name = serializers.CharField(max_length=120)
    accounts = StrategyAccountSerializer(many=True, allow_empty=False, max_length=500)
    defaults = DefaultsSerializer(required=False)
    symbols = serializers.DictField(
        child=serializers.CharField(max_length=32), required=False, allow_empty=True
    )
    direction = serializers.ChoiceField(choices=DirectionMode.choices, required=False)
    max_position = _amount(required=False, allow_null=True)
    window_start = serializers.TimeField(required=False, allow_null=True)
    window_end = serializers.TimeField(required=False, allow_null=True)
    auto_exit = serializers.BooleanField(required=False)
    rate_limit_per_minute = serializers.IntegerField(
        min_value=1, max_value=100000, required=False, allow_null=True
    )
    replay_window_seconds = serializers.IntegerField(min_value=1, max_value=86400, required=False)

    def validate_max_position(self, value: Any) -> Any:
        if value is not None and value <= 0:
            raise serializers.ValidationError("Must be positive.")
        return value

    def service_values(self) -> dict[str, Any]:
        values = dict(self.validated_data)
        if "accounts" in values:
            values["accounts"] = [
                {"account": entry["account"], "sizing": dict(entry["sizing"])}
                for entry in values["accounts"]
            ]
        if "defaults" in values:
            values["defaults"] = _plain(values["defaults"])
        return values


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


class StrategyAccountOutSerializer(serializers.Serializer):
    account = serializers.CharField(source="account_id")
    sizing = SizingSerializer()


class StrategySerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    accounts = serializers.SerializerMethodField()
    defaults = DefaultsSerializer()
    symbols = serializers.DictField(child=serializers.CharField())
    direction = serializers.ChoiceField(choices=DirectionMode.choices)
    max_position = DecimalString(allow_null=True)
    window_start = serializers.TimeField(allow_null=True)
    window_end = serializers.TimeField(allow_null=True)
    auto_exit = serializers.BooleanField()
    rate_limit_per_minute = serializers.IntegerField(allow_null=True)
    replay_window_seconds = serializers.IntegerField()
    paused = serializers.BooleanField()
    auth_failures = serializers.IntegerField(
        help_text="Signals refused for a bad signature or secret."
    )
    webhook_url = serializers.SerializerMethodField()
    created_at = UtcDateTimeField()
    updated_at = UtcDateTimeField()

    @extend_schema_field(StrategyAccountOutSerializer(many=True))
    def get_accounts(self, strategy: Strategy) -> list[dict[str, Any]]:
        return StrategyAccountOutSerializer(strategy.members.all(), many=True).data

    @extend_schema_field(serializers.URLField())
    def get_webhook_url(self, strategy: Strategy) -> str:
        path = reverse("api-signal", kwargs={"signal_id": strategy.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class StrategyWithSecretSerializer(StrategySerializer):
    webhook_secret = serializers.CharField(
        help_text="Shown only in this answer: sign each signal's body with it "
        '(X-Signature: hex HMAC-SHA256) or put it in the body as "secret".'
    )


class SignalOutcomeSerializer(serializers.Serializer):
    account = serializers.CharField(source="account_id")
    qty = DecimalString(allow_null=True)
    order_ids = serializers.ListField(child=serializers.CharField())
    reason = serializers.CharField(allow_null=True)


class SignalSerializer(serializers.Serializer):
    id = serializers.CharField()
    strategy = serializers.CharField(source="strategy_id")
    received_at = UtcDateTimeField()
    body = serializers.DictField(help_text="The body as received, without its secret.")
    status = serializers.ChoiceField(choices=SignalStatus.choices)
    reason = serializers.CharField(allow_blank=True)
    outcomes = SignalOutcomeSerializer(many=True)

    class Meta:
        model = Signal


class SignalAcceptedSerializer(serializers.Serializer):
    signal_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["accepted"])


class SignalBodySerializer(serializers.Serializer):
    """For the schema only: the body is read by strategies/signal_input.py (any content
    type, JSON inside; numbers as JSON numbers or decimal strings)."""

    symbol = serializers.CharField(help_text="The alert's ticker (mapped by `symbols`).")
    action = serializers.ChoiceField(choices=["buy", "sell", "exit", "reverse"], required=False)
    position = serializers.CharField(required=False, help_text="Signed target position.")
    qty = serializers.CharField(required=False)
    price = serializers.CharField(required=False, help_text="Makes it a limit order.")
    stop = serializers.CharField(required=False)
    id = serializers.CharField(required=False, max_length=128, help_text="Sender's alert id.")
    ts = serializers.CharField(required=False, help_text="ISO 8601 with offset or Unix seconds.")
    secret = serializers.CharField(required=False, help_text="When X-Signature is not sent.")
