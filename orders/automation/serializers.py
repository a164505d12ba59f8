"""API shapes of GTTs (API.md § GTT) and scheduled orders. Input serializers parse types;
the rules live in orders/automation/gtt.py and orders/automation/scheduled.py."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from oms_site.api import DecimalString, StrictFieldsMixin, UtcDateTimeField
from oms_site.schema import NULLABLE_STRING
from orders.core.values import decimal_or_none
from orders.models import Gtt, GttEvent, GttStatus, GttType, ScheduledOrder, ScheduleKind


class GttOrderSerializer(serializers.Serializer):
    rejects_unknown_fields = True  # orders/automation/gtt.py
    side = serializers.ChoiceField(choices=["buy", "sell"])
    qty = DecimalString()
    type = serializers.ChoiceField(choices=["limit", "market"], default="limit")
    limit_price = DecimalString(required=False, allow_null=True)
    product = serializers.ChoiceField(choices=["delivery", "intraday"], required=False)


@extend_schema_field(GttOrderSerializer(many=True))
class GttOrdersField(serializers.JSONField):
    """[{"side", "qty", "type": "limit"|"market", "limit_price", "product"?}], one per
    trigger (oco: the stop-loss order for the lower trigger, then the target order)."""


@extend_schema_field(serializers.ListField(child=serializers.CharField()))
class TriggerValuesField(serializers.JSONField):
    """Decimal strings or numbers: [value] (single) or [lower, upper] (oco)."""


class GttInputSerializer(StrictFieldsMixin, serializers.Serializer):
    """POST /api/v1/gtt"""

    account = serializers.CharField()
    symbol = serializers.CharField(max_length=32)
    trigger_type = serializers.ChoiceField(choices=GttType.choices)
    trigger_values = TriggerValuesField()
    orders = GttOrdersField()
    expires_at = UtcDateTimeField(
        required=False, allow_null=True, default=None, help_text="Default: one year from now."
    )
    tag = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    def to_service_kwargs(self) -> dict[str, Any]:
        data = dict(self.validated_data)
        data["account_id"] = data.pop("account")
        return data


class GttModifySerializer(StrictFieldsMixin, serializers.Serializer):
    """PATCH /api/v1/gtt/{id} (only while active): what to change."""

    trigger_values = TriggerValuesField(required=False, default=None)
    orders = GttOrdersField(required=False, default=None)
    expires_at = UtcDateTimeField(required=False, allow_null=True, default=None)


class GttSerializer(serializers.ModelSerializer):
    """The GTT object: status active | triggered | cancelled | expired | rejected |
    disabled; `order_ids` names the order(s) it placed; `reason` why it was rejected or
    disabled; `last_price` the price its trigger directions were judged against."""

    id = serializers.CharField(read_only=True)
    account = serializers.CharField(source="account_id", read_only=True)
    last_price = DecimalString(read_only=True)
    triggered_price = DecimalString(read_only=True, allow_null=True)
    expires_at = UtcDateTimeField(read_only=True)
    triggered_at = UtcDateTimeField(read_only=True, allow_null=True)
    created_at = UtcDateTimeField(read_only=True)
    updated_at = UtcDateTimeField(read_only=True)
    triggers = serializers.SerializerMethodField()
    reject_reason = serializers.SerializerMethodField()

    class Meta:
        model = Gtt
        fields = [
            "id",
            "account",
            "symbol",
            "trigger_type",
            "trigger_values",
            "triggers",
            "last_price",
            "orders",
            "status",
            "order_ids",
            "reason",
            "reject_reason",
            "triggered_leg",
            "triggered_price",
            "triggered_at",
            "expires_at",
            "tag",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_triggers(self, gtt: Gtt) -> list[dict[str, str]]:
        """Each trigger value with the way it fires: `down` (last <= value) or `up`."""
        return [
            {
                "value": value,
                "fires_when": f"last {'<=' if value_dec < gtt.last_price else '>='} {value}",
                "direction": "down" if value_dec < gtt.last_price else "up",
            }
            for value, value_dec in ((v, decimal_or_none(v)) for v in gtt.trigger_values)
        ]

    @extend_schema_field(NULLABLE_STRING)
    def get_reject_reason(self, gtt: Gtt) -> str | None:
        return gtt.reason or None if gtt.status == GttStatus.REJECTED else None


class GttEventSerializer(serializers.ModelSerializer):
    at = UtcDateTimeField(read_only=True)
    actor = serializers.JSONField(read_only=True)
    data = serializers.JSONField(read_only=True)

    class Meta:
        model = GttEvent
        fields = ["seq", "type", "at", "actor", "data"]
        read_only_fields = fields


# --- scheduled orders -----------------------------------------------------------------------


class ScheduleOrderTemplateSerializer(serializers.Serializer):
    rejects_unknown_fields = True  # orders/automation/scheduled.py
    symbol = serializers.CharField()
    side = serializers.ChoiceField(choices=["buy", "sell"])
    type = serializers.CharField(default="market")
    qty = DecimalString()
    limit_price = DecimalString(required=False, allow_null=True)
    stop_price = DecimalString(required=False, allow_null=True)
    time_in_force = serializers.CharField(required=False)
    product = serializers.CharField(required=False)
    tag = serializers.CharField(required=False)


@extend_schema_field(ScheduleOrderTemplateSerializer)
class ScheduleOrderField(serializers.JSONField):
    """The order to place: POST /api/v1/orders fields without account/client_order_id."""


class ScheduleInputSerializer(StrictFieldsMixin, serializers.Serializer):
    """POST /api/v1/schedules (all fields) and PATCH (any of them)."""

    account = serializers.CharField(required=False)
    name = serializers.CharField(max_length=120, required=False)
    order = ScheduleOrderField(required=False)
    kind = serializers.ChoiceField(choices=ScheduleKind.choices, required=False)
    run_at = UtcDateTimeField(
        required=False, allow_null=True, help_text="once: when to place the order."
    )
    cron = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text='cron: "minute hour day-of-month month day-of-week", e.g. "15 9 * * 1-5".',
    )
    tz = serializers.CharField(required=False, help_text="Time zone of cron (IANA), default UTC.")
    enabled = serializers.BooleanField(required=False)

    def to_service_kwargs(self) -> dict[str, Any]:
        data = dict(self.validated_data)
        if "account" in data:
            data["account_id"] = data.pop("account")
        return data


class ScheduleSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    account = serializers.CharField(source="account_id", read_only=True)
    account_name = serializers.CharField(source="account.name", read_only=True)
    run_at = UtcDateTimeField(read_only=True, allow_null=True)
    last_run_at = UtcDateTimeField(read_only=True, allow_null=True)
    created_at = UtcDateTimeField(read_only=True)
    updated_at = UtcDateTimeField(read_only=True)
    last_order_id = serializers.SerializerMethodField()
    last_order_status = serializers.SerializerMethodField()

    class Meta:
        model = ScheduledOrder
        fields = [
            "id",
            "name",
            "account",
            "account_name",
            "order",
            "kind",
            "run_at",
            "cron",
            "tz",
            "enabled",
            "run_count",
            "last_run_at",
            "last_order_id",
            "last_order_status",
            "last_error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(NULLABLE_STRING)
    def get_last_order_id(self, row: ScheduledOrder) -> str | None:
        return None if row.last_order_id is None else str(row.last_order_id)

    @extend_schema_field(NULLABLE_STRING)
    def get_last_order_status(self, row: ScheduledOrder) -> str | None:
        return None if row.last_order is None else row.last_order.status
