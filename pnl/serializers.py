"""API shapes of pnl (API.md § Fills, positions and PnL). Decimals go out as exact strings
("320", "10.05"); nothing is rounded on the way out."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from oms_site.api import (
    DecimalString,
    IsoDateField,
    StrictFieldsMixin,
    UtcDateTimeField,
    format_decimal,
)
from pnl.models import Fill


def _amount(**kwargs: Any) -> DecimalString:
    # PnL amounts carry up to 24 decimal places (pnl.models.AmountField).
    return DecimalString(max_digits=50, decimal_places=24, read_only=True, **kwargs)


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
    external = serializers.BooleanField(
        source="is_external",
        read_only=True,
        help_text="A fill of an order placed at the broker outside OMS (imported).",
    )

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
            "external",
        ]
        read_only_fields = fields


class PositionSerializer(serializers.Serializer):
    """`{"account", "symbol", "qty", "avg_entry_price", "market_price", "market_value",
    "unrealized_pnl", "realized_pnl", "fees"}`: qty signed (short < 0); avg_entry_price null
    when flat; market_price/market_value/unrealized_pnl null for an open position whose
    symbol has no quote yet; realized_pnl and fees cumulative."""

    account = serializers.CharField(source="account_id", read_only=True)
    symbol = serializers.CharField(read_only=True)
    qty = DecimalString(read_only=True)
    avg_entry_price = DecimalString(read_only=True, allow_null=True)
    market_price = DecimalString(read_only=True, allow_null=True)
    market_value = _amount(allow_null=True)
    unrealized_pnl = _amount(allow_null=True)
    realized_pnl = _amount()
    fees = _amount()


def position_payload(view: Any) -> dict[str, Any]:
    """PositionSerializer(view).data built directly: the live push after every fill uses
    it (a DRF serializer costs more than the rest of the push). Same keys, same strings."""

    def text(value: Any) -> str | None:
        return None if value is None else format_decimal(value)

    return {
        "account": view.account_id,
        "symbol": view.symbol,
        "qty": text(view.qty),
        "avg_entry_price": text(view.avg_entry_price),
        "market_price": text(view.market_price),
        "market_value": text(view.market_value),
        "unrealized_pnl": text(view.unrealized_pnl),
        "realized_pnl": text(view.realized_pnl),
        "fees": text(view.fees),
    }


class PositionCloseInputSerializer(StrictFieldsMixin, serializers.Serializer):
    account = serializers.UUIDField()
    symbol = serializers.CharField(required=False, allow_blank=True, max_length=32)


class PositionCloseOutputSerializer(serializers.Serializer):
    orders = serializers.ListField(child=serializers.DictField(), read_only=True)
    errors = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="only when some symbol failed"
    )


class PnlSymbolSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    qty = DecimalString()
    realized_pnl = _amount()
    unrealized_pnl = _amount()
    fees = _amount()
    net_pnl = _amount()


class PnlTagSerializer(serializers.Serializer):
    tag = serializers.CharField()
    realized_pnl = _amount()
    unrealized_pnl = _amount()
    fees = _amount()
    net_pnl = _amount()


class PnlDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    realized_pnl = _amount()
    unrealized_pnl = _amount()
    fees = _amount()
    net_pnl = _amount()


class PnlReportSerializer(serializers.Serializer):
    """`{"realized_pnl", "unrealized_pnl", "fees", "net_pnl", "by_symbol", "by_tag",
    "daily"}` — see pnl/reports.py for the exact meaning of each figure."""

    realized_pnl = _amount()
    unrealized_pnl = _amount()
    fees = _amount()
    net_pnl = _amount()
    by_symbol = PnlSymbolSerializer(many=True)
    by_tag = PnlTagSerializer(many=True)
    daily = PnlDaySerializer(many=True)


class SnapshotInputSerializer(serializers.Serializer):
    date = IsoDateField(required=False, allow_null=True)
    account = serializers.UUIDField(required=False, allow_null=True)


class SnapshotOutputSerializer(serializers.Serializer):
    date = serializers.DateField()
    accounts = serializers.IntegerField()
    rows = serializers.IntegerField()
