"""Small value helpers shared by the orders modules: decimals read back from JSON, and
values made JSON-safe for the audit trail."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from oms_site.api import format_decimal


def decimal_or_none(value: object) -> Decimal | None:
    """A stored number (a string in JSON, a Decimal, an int) as Decimal; None or "" → None."""
    return None if value in (None, "") else Decimal(str(value))


def json_value(value: Any) -> Any:
    """Decimals as canonical strings, datetimes in ISO 8601, mappings and lists deeply."""
    if isinstance(value, Decimal):
        return format_decimal(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value
