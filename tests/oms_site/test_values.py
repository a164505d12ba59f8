"""oms_site.values: trusted stored and wire values to Decimals and text, one copy for every app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

import pytest

from oms_site.values import (
    decimal_or_none,
    decimal_text_or_none,
    format_decimal,
    utc_text_or_none,
)


def test_none_stays_none():
    assert decimal_or_none(None) is None
    assert decimal_text_or_none(None) is None
    assert utc_text_or_none(None) is None


def test_a_decimal_is_returned_as_it_is():
    value = Decimal("10.50")
    assert decimal_or_none(value) is value


def test_a_float_is_read_by_its_shortest_repr_not_its_binary_value():
    assert decimal_or_none(0.1) == Decimal("0.1")
    assert decimal_or_none(100.05) == Decimal("100.05")


def test_text_and_integers_are_read_by_their_text():
    assert decimal_or_none("99.95") == Decimal("99.95")
    assert decimal_or_none(7) == Decimal(7)


def test_blank_text_is_none_only_when_asked():
    # Given a blank cell (a replay file's empty bid), then it is "no value" when asked
    assert decimal_or_none("  ", blank_is_none=True) is None
    assert decimal_or_none(" 1.5 ", blank_is_none=True) == Decimal("1.5")
    # And otherwise blank text is not a number
    with pytest.raises(InvalidOperation):
        decimal_or_none("")


def test_text_that_is_not_a_number_raises():
    with pytest.raises(InvalidOperation):
        decimal_or_none("ten", blank_is_none=True)


def test_decimal_text_is_canonical():
    assert format_decimal(Decimal("10.500")) == "10.5"
    assert format_decimal(Decimal("1E+2")) == "100"
    assert format_decimal(Decimal("-0.000")) == "0"
    assert decimal_text_or_none(Decimal("2.50")) == "2.5"


def test_utc_times_end_in_z_and_other_offsets_are_kept():
    at = datetime(2026, 1, 2, 9, 15, tzinfo=UTC)
    assert utc_text_or_none(at) == "2026-01-02T09:15:00Z"
    ist = timezone(timedelta(hours=5, minutes=30))
    assert utc_text_or_none(at.astimezone(ist)) == "2026-01-02T14:45:00+05:30"
