"""The page formatting filters (accounts/templatetags/oms_format.py): one rule per kind of
figure, the same as static/js/format.js (tests/e2e/test_formatting.py checks both agree)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.template import Context, Template

from accounts.templatetags import oms_format as fmt


@pytest.mark.parametrize(
    ("value", "tick", "expected"),
    [
        (Decimal("1251"), Decimal("0.05"), "1,251.00"),
        ("1251.05", "0.05", "1,251.05"),
        (Decimal("1251.00000000"), Decimal("0.01"), "1,251.00"),
        (Decimal("99.5"), Decimal("1"), "100"),  # half-up to the tick's places
        (Decimal("0.00012345"), Decimal("0.0001"), "0.0001"),
        (Decimal("-12.345"), Decimal("0.01"), "-12.35"),
        (None, Decimal("0.05"), "—"),
        ("", Decimal("0.05"), "—"),
        (Decimal("1251.5"), None, "1,251.5"),  # unknown tick: as exact as given
    ],
)
def test_price_is_written_to_the_tick_precision_with_grouping(value, tick, expected):
    assert fmt.price(value, tick) == expected


def test_average_price_is_two_places_finer_than_the_tick_never_the_raw_eight():
    assert fmt.avg_price(Decimal("1251.19411765"), Decimal("0.05")) == "1,251.1941"
    assert fmt.avg_price(Decimal("1251"), Decimal("0.05")) == "1,251.0000"
    assert fmt.avg_price(Decimal("10.123456"), None) == "10.1235"
    assert fmt.avg_price(None, Decimal("0.05")) == "—"


def test_money_has_two_decimals_thousands_separators_and_the_currency_when_given():
    assert fmt.money(Decimal("1000000")) == "1,000,000.00"
    assert fmt.money(Decimal("1000000"), "INR") == "1,000,000.00 INR"
    assert fmt.money("-1234.565") == "-1,234.57"
    assert fmt.money(Decimal("-0.001")) == "0.00"  # never "-0.00"
    assert fmt.money(None, "INR") == "—"
    assert fmt.money("not a number") == "—"


def test_quantities_are_exact_grouped_and_without_trailing_zeros():
    assert fmt.qty(Decimal("1000.00000000")) == "1,000"
    assert fmt.qty("0.50") == "0.5"
    assert fmt.qty(Decimal("-17")) == "-17"
    assert fmt.percent("1.5") == "1.50%"
    assert fmt.percent(None) == "—"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12.5", "up"), ("-0.01", "down"), ("0", ""), ("-0.004", ""), (None, ""), ("x", "")],
)
def test_gains_are_up_and_losses_down_as_shown_after_rounding(value, expected):
    assert fmt.sign_class(value) == expected


def test_a_time_is_a_readable_time_element_that_the_browser_localises(settings):
    settings.TIME_ZONE = "UTC"
    moment = datetime(2026, 12, 5, 9, 5, 30, 123456, tzinfo=UTC)
    html = fmt.local_time(moment)
    assert 'datetime="2026-12-05T09:05:30.123456+00:00"' in html
    assert 'data-fmt="datetime"' in html
    assert ">5 Dec 2026 09:05:30 UTC</time>" in html
    assert ">5 Dec 2026</time>" in fmt.local_time(moment, "date")
    assert fmt.local_time(None) == "—"


def test_templates_use_the_filters_by_name():
    template = Template(
        "{% load oms_format %}{{ cash|money:'INR' }}|{{ px|price:tick }}|"
        "{{ pnl|sign_class }}|{{ q|qty }}|{{ avg|avg_price:tick }}"
    )
    context = Context(
        {
            "cash": Decimal("1000000"),
            "px": Decimal("1251"),
            "tick": Decimal("0.05"),
            "pnl": Decimal("-1.75"),
            "q": Decimal("1500"),
            "avg": Decimal("1251.19411765"),
        }
    )
    assert template.render(context) == "1,000,000.00 INR|1,251.00|down|1,500|1,251.1941"
