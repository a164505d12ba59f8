"""Response shapes of execution's endpoints (documentation; the data is built in depth.py)."""

from rest_framework import serializers


class DepthLevelSerializer(serializers.Serializer):
    price = serializers.CharField(help_text="Price of the level (decimal string).")
    qty = serializers.CharField(help_text="Visible quantity (an iceberg shows its slice only).")
    orders = serializers.IntegerField(help_text="Number of orders resting at this price.")


class OrderBookSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    bids = DepthLevelSerializer(many=True, help_text="Best (highest) bid first.")
    asks = DepthLevelSerializer(many=True, help_text="Best (lowest) ask first.")
    ts = serializers.DateTimeField()
