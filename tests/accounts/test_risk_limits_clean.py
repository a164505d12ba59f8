"""The pure validator every entry point (API, pages, admin) uses for risk limits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.risk_services import risk_limits_clean
from oms_site.errors import ValidationFailed


def test_values_are_normalised():
    cleaned = risk_limits_clean(
        {
            "max_order_value": "1000.50",
            "max_order_qty": 10,
            "price_band_pct": Decimal("2.5"),
            "allowed_symbols": ["acme", "acme", " foo"],
            "max_open_orders": 0,
            "kill_switch": True,
        }
    )
    assert cleaned == {
        "max_order_value": Decimal("1000.50"),
        "max_order_qty": Decimal("10"),
        "price_band_pct": Decimal("2.5"),
        "allowed_symbols": ["ACME", "FOO"],
        "max_open_orders": 0,
        "kill_switch": True,
    }


def test_null_means_no_limit_and_empty_list_means_nothing_allowed():
    assert risk_limits_clean({"max_daily_loss": None, "allowed_symbols": None}) == {
        "max_daily_loss": None,
        "allowed_symbols": None,
    }
    assert risk_limits_clean({"allowed_symbols": []}) == {"allowed_symbols": []}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_order_value", 1.5),  # floats never enter money code
        ("max_order_value", "1e400"),
        ("max_order_value", "NaN"),
        ("max_order_qty", "0.123456789"),
        ("price_band_pct", "1.2345"),
        ("price_band_pct", 101),
        ("max_open_orders", True),
        ("max_open_orders", "5"),
        ("max_orders_per_minute", 2**40),
        ("allowed_symbols", ["X" * 33]),
        ("kill_switch", "yes"),
    ],
)
def test_bad_values_are_named(field, value):
    with pytest.raises(ValidationFailed) as caught:
        risk_limits_clean({field: value})
    assert list(caught.value.fields) == [field]


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(ValidationFailed) as caught:
        risk_limits_clean({"max_order_value": "-1", "allow_short": 1, "bogus": 2})
    assert set(caught.value.fields) == {"max_order_value", "allow_short", "bogus"}
