"""API shapes of pnl (API.md § Fills, positions and PnL)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rest_framework import serializers

from oms_site.api import DecimalString
from pnl.models import Fill


class UtcDateTimeField(serializers.DateTimeField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("default_timezone", dt.UTC)
        super().__init__(**kwargs)


class FillSerializer(serializers.ModelSerializer):
    """`{"id", "order_id", "account", "symbol", "side", "qty", "price", "fee", "liquidity",
    "ts"}` (API.md)."""

    id = serializers.CharField(read_only=True)
    order_id = serializers.CharField(read_only=True)
    account = serializers.CharField(source="account_id", read_only=True)
    qty = DecimalString(read_only=True)
    price = DecimalString(read_only=True)
    fee = DecimalString(read_only=True)
    liquidity = serializers.CharField(read_only=True, allow_null=True)
    ts = UtcDateTimeField(read_only=True)

    class Meta:
        model = Fill
        fields = [
            "id",
            "order_id",
            "account",
            "symbol",
            "side",
            "qty",
            "price",
            "fee",
            "liquidity",
            "ts",
        ]
        read_only_fields = fields
