"""Number formatting for pages: money with grouping and two decimals, quantities as given."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.template.defaultfilters import floatformat

from oms_site.api import format_decimal

register = template.Library()


@register.filter
def money(value: object) -> str:
    """1000000 → "1,000,000.00"; None → "—"."""
    if value is None or value == "":
        return "—"
    return floatformat(value, "2g")


@register.filter
def decimal_plain(value: object) -> str:
    """A decimal without trailing zeros ("10.5", "100"); None → "—"."""
    if value is None or value == "":
        return "—"
    try:
        return format_decimal(Decimal(str(value)))
    except InvalidOperation:
        return str(value)
