"""Helpers that place orders through the real service (never by writing rows directly)."""

from __future__ import annotations

from decimal import Decimal

from orders import services
from orders.models import Order


def place(user, account, **overrides) -> Order:
    values = {
        "account_id": account.pk,
        "symbol": "ACME",
        "side": "buy",
        "order_type": "limit",
        "qty": Decimal("10"),
        "limit_price": Decimal("100"),
        "time_in_force": "day",
    }
    for key, value in overrides.items():
        if isinstance(value, str) and key not in (
            "symbol",
            "side",
            "order_type",
            "time_in_force",
            "client_order_id",
            "tag",
            "product",
            "order_class",
        ):
            value = Decimal(value)
        values[key] = value
    return services.order_place(user=user, **values).order
