"""Plain values to and from their stored and wire forms, for code that trusts its input
(stored rows, cache entries, our own queue payloads, a feed's file). Client input goes
through `oms_site.parsing`, which is strict. No Django here: pure cores may use it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal


def format_decimal(value: Decimal) -> str:
    """Canonical decimal string: no exponent, no trailing zeros."""
    normalized = value.normalize()
    text = format(normalized, "f")
    return "0" if text in ("-0", "") else text


def decimal_or_none(value: object, *, blank_is_none: bool = False) -> Decimal | None:
    """`value` as a Decimal; None stays None (and so does blank text with `blank_is_none`).

    A Decimal is returned as it is, a float by its shortest repr (0.1 → Decimal("0.1"), never
    0.1000000000000000055…), anything else by its text. Text that is not a number raises
    decimal.InvalidOperation.
    """
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    text = str(value)
    if blank_is_none and not text.strip():
        return None
    return Decimal(text.strip() if blank_is_none else text)


def decimal_text_or_none(value: Decimal | None) -> str | None:
    """The canonical decimal string (`format_decimal`), or None."""
    return None if value is None else format_decimal(value)


def utc_text_or_none(value: datetime | None) -> str | None:
    """ISO 8601 with "Z" for a UTC time (API.md: UTC on output), or None."""
    return None if value is None else value.isoformat().replace("+00:00", "Z")
