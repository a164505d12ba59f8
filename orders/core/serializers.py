"""The order as the API, the pages and the live stream show it (API.md § Orders), and its
audit events. What the API reads in is orders/api/serializers.py."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from oms_site.api import DecimalString, UtcDateTimeField
from oms_site.representation import represent
from oms_site.schema import NULLABLE_STRING
from orders.core.hooks import detail_reader
from orders.core.reasons import cancel_reason_text
from orders.core.selectors import order_legs
from orders.models import (
    Order,
    OrderClass,
    OrderEvent,
)

# --- output -----------------------------------------------------------------------------


class OrderSerializer(serializers.ModelSerializer):
    """The order object of API.md (plus display_qty, tag, product, version, hold_reason,
    submitted_at)."""

    id = serializers.CharField(read_only=True)
    account = serializers.CharField(source="account_id", read_only=True)
    parent_id = serializers.SerializerMethodField()
    qty = DecimalString(read_only=True)
    filled_qty = DecimalString(read_only=True)
    avg_fill_price = DecimalString(read_only=True, allow_null=True)
    limit_price = DecimalString(read_only=True, allow_null=True)
    stop_price = DecimalString(read_only=True, allow_null=True)
    trail_price = DecimalString(read_only=True, allow_null=True)
    trail_percent = DecimalString(read_only=True, allow_null=True)
    display_qty = DecimalString(read_only=True, allow_null=True)
    expire_at = UtcDateTimeField(read_only=True, allow_null=True)
    created_at = UtcDateTimeField(read_only=True)
    updated_at = UtcDateTimeField(read_only=True)
    submitted_at = UtcDateTimeField(read_only=True, allow_null=True)
    filled_at = UtcDateTimeField(read_only=True, allow_null=True)
    canceled_at = UtcDateTimeField(read_only=True, allow_null=True)
    legs = serializers.SerializerMethodField()
    seq = serializers.IntegerField(
        source="event_seq",
        read_only=True,
        help_text="Number of the order's latest audit event: of two copies, the higher is newer.",
    )
    reject_reason = serializers.SerializerMethodField()
    cancel_reason = serializers.SerializerMethodField()
    hold_reason = serializers.SerializerMethodField()
    leg_role = serializers.SerializerMethodField()
    oco_group = serializers.SerializerMethodField()
    gtt_id = serializers.SerializerMethodField()
    reentry_of = serializers.SerializerMethodField()
    algo = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "client_order_id",
            "account",
            "symbol",
            "side",
            "type",
            "qty",
            "filled_qty",
            "avg_fill_price",
            "limit_price",
            "stop_price",
            "trail_price",
            "trail_percent",
            "time_in_force",
            "expire_at",
            "display_qty",
            "order_class",
            "parent_id",
            "legs",
            "leg_role",
            "oco_group",
            "algo",
            "gtt_id",
            "reentry_of",
            "reentry_attempt",
            "status",
            "reject_reason",
            "cancel_reason",
            "hold_reason",
            "product",
            "tag",
            "version",
            "seq",
            "created_at",
            "updated_at",
            "submitted_at",
            "filled_at",
            "canceled_at",
            # Placed at the broker outside OMS and imported (API.md § Brokers).
            "external",
        ]
        read_only_fields = fields

    @extend_schema_field(NULLABLE_STRING)
    def get_reject_reason(self, order: Order) -> str | None:
        return order.reject_reason or None

    @extend_schema_field(NULLABLE_STRING)
    def get_cancel_reason(self, order: Order) -> str | None:
        """Why a canceled (or expired) order ended, in words: who asked, or the venue's cause."""
        return cancel_reason_text(order.cancel_reason)

    @extend_schema_field(NULLABLE_STRING)
    def get_hold_reason(self, order: Order) -> str | None:
        """Why a held order waits: `trigger` (its stop) or `queued_for_open`."""
        return order.hold_reason or None

    @extend_schema_field(NULLABLE_STRING)
    def get_parent_id(self, order: Order) -> str | None:
        return None if order.parent_id is None else str(order.parent_id)

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_legs(self, order: Order) -> list[dict[str, Any]]:
        """Exit legs (take_profit / stop_loss) of a bracket / oco / oto order. A bracket's
        legs appear when its entry fills, sized to the filled quantity."""
        if order.order_class == OrderClass.SIMPLE or order.parent_id is not None:
            return []  # simple orders and legs have no legs: no query
        return OrderSerializer(order_legs(order=order), many=True, context=self.context).data

    @extend_schema_field(NULLABLE_STRING)
    def get_leg_role(self, order: Order) -> str | None:
        """take_profit / stop_loss (contingent legs), slice (an algo's child)."""
        return order.leg_role or None

    @extend_schema_field(NULLABLE_STRING)
    def get_oco_group(self, order: Order) -> str | None:
        """Members of one OCO pair share it: one filling cancels (or resizes) the other."""
        return None if order.oco_group is None else str(order.oco_group)

    @extend_schema_field(NULLABLE_STRING)
    def get_gtt_id(self, order: Order) -> str | None:
        return None if order.gtt_id is None else str(order.gtt_id)

    @extend_schema_field(NULLABLE_STRING)
    def get_reentry_of(self, order: Order) -> str | None:
        return None if order.reentry_of_id is None else str(order.reentry_of_id)

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_algo(self, order: Order) -> dict[str, Any] | None:
        """Algo parents: parameters, state (running/paused/done/stopped), slices_total,
        slices_sent, children, filled_qty / scheduled_qty / working_qty / remaining_qty,
        started_at, ends_at, next_slice_at."""
        reader = detail_reader("algo")
        if not order.algo or reader is None:
            return None
        return reader(order)


def order_data(order: Order) -> dict[str, Any]:
    """`OrderSerializer(order).data` (no request context), from the shared instance.

    The representation is remembered on the instance (`order_data_current` reuses it)."""
    data = represent(OrderSerializer, order)
    order._oms_shown = (_shown_state(order), data)  # type: ignore[attr-defined]
    return data


def _shown_state(order: Order) -> tuple[Any, ...]:
    # Every change of an order's state records an event (event_seq) and moves updated_at.
    return (order.event_seq, order.status, order.version, order.updated_at)


def order_data_current(order: Order) -> dict[str, Any]:
    """`order_data(order)`, reusing the representation last made of this instance when the
    order has not changed since (the API answer to a placement is what its push showed)."""
    shown = getattr(order, "_oms_shown", None)
    if shown is not None and shown[0] == _shown_state(order):
        return shown[1]
    return order_data(order)


class OrderEventSerializer(serializers.ModelSerializer):
    at = UtcDateTimeField(read_only=True)
    actor = serializers.JSONField(read_only=True)
    data = serializers.JSONField(read_only=True)

    class Meta:
        model = OrderEvent
        fields = ["seq", "type", "at", "actor", "data"]
        read_only_fields = fields
