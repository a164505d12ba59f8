"""Response shapes of execution's endpoints (documentation; the data is built in depth.py)."""

from rest_framework import serializers

from execution.protocol import ConnectionState
from oms_site.api import UtcDateTimeField


class DepthLevelSerializer(serializers.Serializer):
    price = serializers.CharField(help_text="Price of the level (decimal string).")
    qty = serializers.CharField(help_text="Visible quantity (an iceberg shows its slice only).")
    orders = serializers.IntegerField(help_text="Number of orders resting at this price.")


class OrderBookSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    bids = DepthLevelSerializer(many=True, help_text="Best (highest) bid first.")
    asks = DepthLevelSerializer(many=True, help_text="Best (lowest) ask first.")
    ts = serializers.DateTimeField()


class BrokerStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=list(ConnectionState.ALL))
    last_checked_at = UtcDateTimeField(allow_null=True)
    detail = serializers.CharField(allow_blank=True, help_text="In words, for people.")


class ConnectionCheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    latency_ms = serializers.IntegerField(min_value=0)
    detail = serializers.CharField(allow_blank=True, help_text="In words, for people.")
