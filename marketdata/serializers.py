"""API shapes for market data (API.md): decimals as strings, times ISO 8601 UTC."""

from __future__ import annotations

from rest_framework import serializers

from marketdata.models import Instrument
from oms_site.api import DecimalString, UtcDateTimeField


class InstrumentSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    exchange = serializers.CharField(source="exchange_id")
    tick_size = DecimalString()
    lot_size = DecimalString()
    price_band_pct = DecimalString(required=False, allow_null=True)
    timezone = serializers.CharField(source="exchange.timezone", read_only=True)

    class Meta:
        model = Instrument
        fields = [
            "id",
            "symbol",
            "exchange",
            "name",
            "currency",
            "tick_size",
            "lot_size",
            "price_band_pct",
            "tradable",
            "simulate",
            "timezone",
        ]


class InstrumentCreateSerializer(serializers.Serializer):
    """Input of POST /instruments; field checks live in the service (one set of rules)."""

    symbol = serializers.CharField(max_length=64)
    exchange = serializers.CharField(max_length=16)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    currency = serializers.CharField(max_length=8, required=False, default="INR")
    tick_size = serializers.JSONField(required=False, default="0.05")
    lot_size = serializers.JSONField(required=False, default="1")
    price_band_pct = serializers.JSONField(required=False, allow_null=True, default=None)
    tradable = serializers.BooleanField(required=False, default=True)
    simulate = serializers.BooleanField(required=False, default=False)
    sim_start_price = serializers.JSONField(required=False, allow_null=True, default=None)


class QuoteSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    last = DecimalString(allow_null=True)
    bid = DecimalString(allow_null=True)
    ask = DecimalString(allow_null=True)
    volume = DecimalString()
    ts = UtcDateTimeField(allow_null=True)
    prev_close = DecimalString(allow_null=True)
    change = DecimalString(allow_null=True)
    change_pct = DecimalString(allow_null=True)


class BarSerializer(serializers.Serializer):
    ts = UtcDateTimeField()
    open = DecimalString()
    high = DecimalString()
    low = DecimalString()
    close = DecimalString()
    volume = DecimalString()


class TickSerializer(serializers.Serializer):
    """Documentation of one pushed tick (the service validates; see marketdata.ticks)."""

    symbol = serializers.CharField()
    last = DecimalString()
    bid = DecimalString(required=False, allow_null=True)
    ask = DecimalString(required=False, allow_null=True)
    volume = DecimalString(required=False)
    ts = UtcDateTimeField(required=False)


class TickResultSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    applied = serializers.BooleanField()
    reason = serializers.CharField(required=False)
    message = serializers.CharField(required=False)
    ts = UtcDateTimeField(allow_null=True)


class TickPushResponseSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    dropped = serializers.IntegerField()
    results = TickResultSerializer(many=True)


class WatchlistItemSerializer(serializers.Serializer):
    symbol = serializers.CharField(source="instrument.symbol")
    name = serializers.CharField(source="instrument.name")
    exchange = serializers.CharField(source="instrument.exchange_id")
    added_at = UtcDateTimeField()


class WatchlistAddSerializer(serializers.Serializer):
    symbol = serializers.CharField(max_length=32)
