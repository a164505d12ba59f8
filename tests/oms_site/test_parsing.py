"""The one parser of client decimals, times, dates and whole numbers (oms_site/parsing.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from oms_site.errors import ValidationFailed
from oms_site.parsing import (
    InputError,
    date_from_text,
    datetime_from_text,
    decimal_from_input,
    query_int,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("10.05", "10.05"), ("-12.50", "-12.50"), ("0", "0"), (7, "7"), (10.05, "10.05")],
)
def test_plain_decimals_and_json_numbers_are_read_exactly(value, expected):
    assert decimal_from_input(value) == Decimal(expected)


@pytest.mark.parametrize(
    "value",
    ["1_000", "１", "٣", " 1", "1 ", "1e3", "+1", ".5", "5.", "NaN", "Infinity", "", True, None],
)
def test_anything_else_is_not_a_decimal(value):
    with pytest.raises(InputError):
        decimal_from_input(value)


def test_times_need_an_offset_and_come_back_in_utc():
    assert datetime_from_text("2030-01-01T05:30:00+05:30") == datetime(2030, 1, 1, tzinfo=UTC)
    assert datetime_from_text("2030-01-01T00:00:00Z") == datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(InputError, match="offset"):
        datetime_from_text("2030-01-01T00:00:00")


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_times_at_the_ends_of_the_calendar_are_refused_not_overflowed(text):
    with pytest.raises(InputError, match="between"):
        datetime_from_text(text)


def test_dates_are_yyyy_mm_dd_within_the_range():
    assert date_from_text("2025-01-31") == date(2025, 1, 31)
    for text in ("0001-01-01", "9999-12-31", "20250131", "2025-W01-1", "2025-02-30"):
        with pytest.raises(InputError):
            date_from_text(text)


def test_a_bad_whole_number_names_its_parameter():
    assert query_int({}, "limit", default=100, minimum=1) == 100
    assert query_int({"limit": "5"}, "limit", default=100, minimum=1) == 5
    for bad in ("-1", "abc", "1_0", "１", " 5", "9" * 30):
        with pytest.raises(ValidationFailed) as raised:
            query_int({"limit": bad}, "limit", default=100, minimum=1)
        assert set(raised.value.fields) == {"limit"}
