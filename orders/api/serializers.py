"""Input and result shapes of the orders API (API.md § Orders). Input serializers parse
types only; the rules (lot/tick grid, required prices, TIF, risk) live in
orders/core/validation.py, orders/core/risk.py and the services. The order itself is
orders/core/serializers.py `OrderSerializer`."""

from __future__ import annotations

import copy
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from oms_site.api import DecimalString, StrictFieldsMixin, UtcDateTimeField
from orders.core.serializers import OrderSerializer
from orders.models import OrderClass, OrderSide, OrderType, Product, TimeInForce


def _decimal(**kwargs: Any) -> DecimalString:
    kwargs.setdefault("required", False)
    kwargs.setdefault("allow_null", True)
    kwargs.setdefault("default", None)
    return DecimalString(max_digits=20, decimal_places=8, **kwargs)


class CopiedFieldsMixin:
    """Each instance's fields are shallow copies of the declared ones.

    DRF deep-copies every declared field for each new serializer, which re-runs every
    field's constructor (validators, choices) and costs more than validating the order
    itself; this serializer parses every placed order. A shallow copy is enough: binding
    sets the copy's own name and parent, and validation only reads what the copies share
    (choices, validators, defaults), which nothing changes after the class is built.
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}


# --- input ------------------------------------------------------------------------------


class LegInputSerializer(CopiedFieldsMixin, serializers.Serializer):
    rejects_unknown_fields = True  # orders/risk_classes.py
    limit_price = _decimal()
    stop_price = _decimal()


class AlgoSchemaSerializer(serializers.Serializer):
    """`algo` of POST /api/v1/orders: the order becomes a parent that releases children."""

    rejects_unknown_fields = True  # orders/algos.py parse_algo

    type = serializers.ChoiceField(
        choices=["twap", "vwap", "iceberg"],
        help_text="twap: even slices over the horizon (sizes randomised ±randomize_pct); "
        "vwap: slices weighted by the instrument's intraday volume profile (1-minute bars of "
        "the last days); iceberg: one child of display_qty at a time.",
    )
    horizon_secs = serializers.IntegerField(
        required=False, help_text="twap/vwap: seconds the parent runs."
    )
    interval_secs = serializers.IntegerField(
        required=False, help_text="twap/vwap: seconds between slices (≤ horizon_secs)."
    )
    limit_price = DecimalString(
        required=False, help_text="twap/vwap: children are limit orders at this price."
    )
    randomize_pct = DecimalString(
        required=False, help_text="twap/vwap: slice size randomisation, default 20 (%)."
    )
    display_qty = DecimalString(required=False, help_text="iceberg: size of each child.")


class ReentrySchemaSerializer(serializers.Serializer):
    """`reentry` of POST /api/v1/orders: retry a rejected entry order."""

    rejects_unknown_fields = True  # orders/core/placement.py

    max_retries = serializers.IntegerField(help_text="1–10 new attempts after a rejection.")
    reprice_ticks = serializers.IntegerField(
        required=False,
        help_text="Each attempt moves the limit this many ticks towards the market.",
    )


@extend_schema_field(AlgoSchemaSerializer)
class AlgoField(serializers.JSONField):
    """Checked by orders.automation.algos.parse_algo (errors name `algo.<key>`)."""


@extend_schema_field(ReentrySchemaSerializer)
class ReentryField(serializers.JSONField):
    pass


class OrderInputSerializer(CopiedFieldsMixin, StrictFieldsMixin, serializers.Serializer):
    """POST /api/v1/orders. Decimals: strings or JSON numbers."""

    account = serializers.CharField()
    symbol = serializers.CharField(max_length=32)
    side = serializers.ChoiceField(choices=OrderSide.choices)
    type = serializers.ChoiceField(choices=OrderType.choices)
    qty = DecimalString(max_digits=20, decimal_places=8)
    limit_price = _decimal()
    stop_price = _decimal()
    trail_price = _decimal()
    trail_percent = DecimalString(
        max_digits=9, decimal_places=4, required=False, allow_null=True, default=None
    )
    time_in_force = serializers.ChoiceField(choices=TimeInForce.choices, default=TimeInForce.DAY)
    expire_at = UtcDateTimeField(required=False, allow_null=True, default=None)
    display_qty = _decimal()
    order_class = serializers.ChoiceField(choices=OrderClass.choices, default=OrderClass.SIMPLE)
    take_profit = LegInputSerializer(required=False, allow_null=True, default=None)
    stop_loss = LegInputSerializer(required=False, allow_null=True, default=None)
    client_order_id = serializers.CharField(
        max_length=64, required=False, allow_null=True, allow_blank=False, default=None
    )
    tag = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    product = serializers.ChoiceField(choices=Product.choices, default=Product.DELIVERY)
    algo = AlgoField(required=False, allow_null=True, default=None)
    reentry = ReentryField(required=False, allow_null=True, default=None)

    def to_service_kwargs(self) -> dict[str, Any]:
        return self.service_kwargs_of(self.validated_data)

    def parse_each(self, items: list[Any]) -> list[tuple[dict[str, Any] | None, Any]]:
        """Each item parsed on its own by this one (unbound) serializer → (service kwargs,
        None) or (None, its errors as `.errors` has them): a batch builds and binds the
        fields once, not once per order."""
        parsed: list[tuple[dict[str, Any] | None, Any]] = []
        for item in items:
            self.initial_data = item  # StrictFieldsMixin.validate names unknown keys from it
            try:
                values = self.run_validation(item)
            except serializers.ValidationError as exc:
                parsed.append((None, exc.detail))
            else:
                parsed.append((self.service_kwargs_of(values), None))
        return parsed

    @staticmethod
    def service_kwargs_of(validated_data: dict[str, Any]) -> dict[str, Any]:
        data = dict(validated_data)
        data["account_id"] = data.pop("account")
        data["order_type"] = data.pop("type")
        for leg in ("take_profit", "stop_loss"):
            if data.get(leg) is not None:
                data[leg] = {k: v for k, v in dict(data[leg]).items() if v is not None}
        for name in ("algo", "reentry"):
            if data.get(name) is None:
                data.pop(name, None)
        return data


class OrderBatchInputSerializer(StrictFieldsMixin, serializers.Serializer):
    orders = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=100)


class OrderModifySerializer(StrictFieldsMixin, serializers.Serializer):
    """PATCH /api/v1/orders/{id}: only the fields to change."""

    qty = _decimal()
    limit_price = _decimal()
    stop_price = _decimal()
    trail_price = _decimal()
    trail_percent = DecimalString(
        max_digits=9, decimal_places=4, required=False, allow_null=True, default=None
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if not any(value is not None for value in attrs.values()):
            raise serializers.ValidationError(
                "Give at least one of qty, limit_price, stop_price, trail_price, trail_percent."
            )
        return attrs


# --- results ----------------------------------------------------------------------------


class BatchItemResultSerializer(serializers.Serializer):
    status = serializers.IntegerField()
    order = OrderSerializer(required=False)
    error = serializers.DictField(required=False)


class BatchResultSerializer(serializers.Serializer):
    results = BatchItemResultSerializer(many=True)


class CancelAllResultSerializer(serializers.Serializer):
    canceled = serializers.ListField(child=serializers.CharField())
    failed = serializers.ListField(child=serializers.DictField(), required=False)


class RiskCheckSerializer(serializers.Serializer):
    check = serializers.CharField()
    result = serializers.ChoiceField(choices=["pass", "fail"])
    message = serializers.CharField()


class PreviewResultSerializer(serializers.Serializer):
    """POST /api/v1/orders/preview: what placing this order would do, nothing stored."""

    ok = serializers.BooleanField()
    outcome = serializers.ChoiceField(
        choices=["accepted", "held", "queued_for_open", "rejected"],
        help_text="What placing it now would do.",
    )
    message = serializers.CharField(help_text="The risk check's answer in plain words.")
    reason = serializers.CharField(allow_blank=True)
    symbol = serializers.CharField()
    est_price = DecimalString(allow_null=True)
    est_value = DecimalString(allow_null=True)
    buying_power = DecimalString(allow_null=True)
    last = DecimalString(allow_null=True)
    bid = DecimalString(allow_null=True)
    ask = DecimalString(allow_null=True)
    checks = RiskCheckSerializer(many=True)
