"""How every page writes numbers and times: the one server-side set of rules.

static/js/format.js applies the same rules in the browser to cells that live pushes redraw,
so a figure reads the same before and after its first update:

- price: to the instrument's tick precision, grouped ("1,251.00" for a 0.05 tick);
- avg_price: two decimals finer than the tick ("1,251.1941"), never the raw 8 places;
- money: two decimals, grouped, with the currency when given ("1,000,000.00 INR");
- qty: exact, grouped, no trailing zeros ("1,000", "0.5");
- percent: two decimals and "%" ("1.50%");
- sign_class: "up" (green) above zero, "down" (red) below, as shown after rounding;
- local_time: a <time> element, readable in UTC until format.js turns it to local time.

Rounding is half-up on the exact decimal (never through a float), like format.js.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

EMPTY = "—"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
AVG_EXTRA_PLACES = 2
DEFAULT_AVG_PLACES = 4


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def places_of(tick: object) -> int | None:
    """Decimal places of a tick size: 0.05 → 2, 1 → 0, 0.0001 → 4; None when unknown."""
    step = _decimal(tick)
    if step is None or step <= 0:
        return None
    return max(0, -step.normalize().as_tuple().exponent)


def format_fixed(value: object, places: int) -> str:
    """Exactly `places` decimals, half-up, grouped by thousands; "—" for no value."""
    number = _decimal(value)
    if number is None:
        return EMPTY
    rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)  # never "-0.00"
    return f"{rounded:,.{places}f}"


@register.filter
def price(value: object, tick: object = None) -> str:
    """A price at the precision of the instrument's tick size (`tick`)."""
    number = _decimal(value)
    if number is None:
        return EMPTY
    places = places_of(tick)
    if places is None:  # unknown instrument: as exact as given
        return qty(number)
    return format_fixed(number, places)


@register.filter
def avg_price(value: object, tick: object = None) -> str:
    """An average (fill or entry) price: two places finer than the tick, fixed."""
    places = places_of(tick)
    return format_fixed(value, DEFAULT_AVG_PLACES if places is None else places + AVG_EXTRA_PLACES)


@register.filter
def money(value: object, currency: object = "") -> str:
    """1000000 → "1,000,000.00"; with a currency → "1,000,000.00 INR"; None → "—"."""
    text = format_fixed(value, 2)
    return f"{text} {currency}" if currency and text != EMPTY else text


@register.filter
def percent(value: object) -> str:
    """A percentage to two decimals: 1.5 → "1.50%"; None → "—"."""
    text = format_fixed(value, 2)
    return text if text == EMPTY else text + "%"


@register.filter
def qty(value: object) -> str:
    """A quantity as exact as it is, grouped, without trailing zeros: "1,000", "0.5"."""
    number = _decimal(value)
    if number is None:
        return EMPTY
    places = max(0, -number.normalize().as_tuple().exponent)
    return format_fixed(number, places)


@register.filter
def decimal_plain(value: object) -> str:
    """A decimal without trailing zeros ("10.5", "1,000"); the quantity rule."""
    return qty(value)


@register.filter
def sign_class(value: object, places: int = 2) -> str:
    """The colour class of a gain or loss: "up" above zero, "down" below, "" at zero as shown."""
    number = _decimal(value)
    if number is None:
        return ""
    rounded = number.quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP)
    return "up" if rounded > 0 else "down" if rounded < 0 else ""


def time_text(moment: datetime, style: str = "datetime") -> str:
    """The text of a time in the server's zone: "5 Dec 2026 09:05:30 UTC", or "5 Dec 2026"."""
    local = timezone.localtime(moment)
    day = f"{local.day} {MONTHS[local.month - 1]} {local.year}"
    if style == "date":
        return day
    return f"{day} {local:%H:%M:%S} {local.tzname()}"


@register.filter
def local_time(value: object, style: str = "datetime") -> SafeString | str:
    """<time datetime="…" data-fmt="datetime">5 Dec 2026 09:05:30 UTC</time>; "—" for none.

    format.js rewrites the text in the browser's own time zone with the same pattern."""
    if not isinstance(value, datetime):
        return EMPTY
    return format_html(
        '<time datetime="{}" data-fmt="{}">{}</time>',
        value.isoformat(),
        style,
        time_text(value, style),
    )
