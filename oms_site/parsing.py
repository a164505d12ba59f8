"""Client input parsed strictly, in one place: decimals, times, dates, whole numbers, and the
query parameters made of them (API.md conventions). Every API field and filter uses these.

* Decimals: a JSON number, or a string of plain ASCII `-?digits[.digits]`. Python's
  Decimal() alone would also take "1_000", full-width digits ("１"), padding (" 1 "),
  exponents and "NaN" — none of which a client means as a quantity or a price.
* Times: ISO 8601 WITH an offset ("Z" or "+05:30"); a time without one is ambiguous.
* Dates: YYYY-MM-DD.
* Both bounded to EARLIEST_DATE..LATEST_DATE: far enough for any real filter, and a day or
  a time-zone shift away from year 1 or 9999 cannot overflow (`from=0001-01-01` was an
  OverflowError and a 500); MySQL's DATETIME range too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from oms_site.errors import ValidationFailed

DECIMAL_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")  # [0-9], not \d: ASCII digits only
WHOLE_TEXT = re.compile(r"-?[0-9]+")
MAX_WHOLE_DIGITS = 18  # a 64-bit integer column (a SQL OFFSET, a count) holds every such value
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(9998, 12, 31)
DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

DECIMAL_HINT = "Use a plain number such as 10.05 or -2.5 (digits, an optional - and .)."
TIME_HINT = "Use ISO 8601 with an offset, e.g. 2025-01-31T09:15:00Z or …+05:30."
DATE_HINT = "Use a date as YYYY-MM-DD."
RANGE_HINT = f"Must be between {EARLIEST_DATE} and {LATEST_DATE}."


class InputError(ValueError):
    """Input that is not what it claims to be; the message is a sentence for the client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def decimal_from_input(value: Any) -> Decimal:
    """A decimal from a JSON number or a plain decimal string (InputError otherwise)."""
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, bool):
        raise InputError(f"Must be a number. {DECIMAL_HINT}")
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))  # 10.05 stays 10.05, never 10.0499999…
    elif isinstance(value, str) and DECIMAL_TEXT.fullmatch(value):
        try:
            number = Decimal(value)
        except InvalidOperation as exc:  # more digits than the context holds
            raise InputError("Too many digits.") from exc
    else:
        raise InputError(f"Must be a number. {DECIMAL_HINT}")
    if not number.is_finite():
        raise InputError("Must be a finite number.")
    return number


def whole_number_from_text(text: str) -> int:
    if not WHOLE_TEXT.fullmatch(text):
        raise InputError("Must be a whole number (ASCII digits).")
    if len(text.lstrip("-")) > MAX_WHOLE_DIGITS:
        raise InputError("Too large.")
    return int(text)


def whole_number_from_input(value: Any) -> int:
    """A whole number from a JSON integer or a plain digit string (InputError otherwise):
    int() alone would also take "1_0", full-width digits and padding; DRF also "10.0"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return whole_number_from_text(value)
    raise InputError("Must be a whole number (ASCII digits).")


def datetime_from_text(text: str) -> datetime:
    """An aware UTC datetime from ISO 8601 text with an offset."""
    try:
        parsed = datetime.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise InputError(TIME_HINT) from exc
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InputError(f"A time needs an offset. {TIME_HINT}")
    if not EARLIEST_DATE <= parsed.date() <= LATEST_DATE:
        raise InputError(RANGE_HINT)
    return parsed.astimezone(UTC)


def date_from_text(text: str) -> date:
    if not DATE_TEXT.fullmatch(text):
        raise InputError(DATE_HINT)
    try:
        parsed = date.fromisoformat(text)
    except ValueError as exc:
        raise InputError(DATE_HINT) from exc
    if not EARLIEST_DATE <= parsed <= LATEST_DATE:
        raise InputError(RANGE_HINT)
    return parsed


# --- query parameters: ValidationFailed (400) naming the parameter ---------------------------


def _failed(name: str, exc: InputError) -> ValidationFailed:
    return ValidationFailed(f"{name}: {exc.message}", fields={name: [exc.message]})


def query_date(params: Mapping[str, Any], name: str) -> date | None:
    value = params.get(name)
    if not value:
        return None
    try:
        return date_from_text(value)
    except InputError as exc:
        raise _failed(name, exc) from exc


def query_datetime(params: Mapping[str, Any], name: str) -> datetime | None:
    value = params.get(name)
    if not value:
        return None
    try:
        # An unencoded "+05:30" arrives as " 05:30" in a query string.
        return datetime_from_text(value.replace(" ", "+"))
    except InputError as exc:
        raise _failed(name, exc) from exc


def query_int_schema(*, minimum: int, maximum: int | None = None) -> dict[str, Any]:
    """The OpenAPI schema of what `query_int` takes (at most MAX_WHOLE_DIGITS digits)."""
    largest = 10**MAX_WHOLE_DIGITS - 1
    highest = largest if maximum is None else min(maximum, largest)
    return {"type": "integer", "minimum": minimum, "maximum": highest}


def query_int(
    params: Mapping[str, Any],
    name: str,
    *,
    default: int,
    minimum: int,
    maximum: int | None = None,
) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    wanted = (
        f"Must be a whole number from {minimum} to {maximum}."
        if maximum is not None
        else f"Must be a whole number, at least {minimum}."
    )
    try:
        number = whole_number_from_text(value)
    except InputError as exc:
        raise _failed(name, InputError(wanted)) from exc
    if number < minimum or (maximum is not None and number > maximum):
        raise _failed(name, InputError(wanted))
    return number


TRUE_TEXTS = frozenset({"1", "true", "yes", "on"})
FALSE_TEXTS = frozenset({"0", "false", "no", "off"})


def query_bool(params: Mapping[str, Any], name: str) -> bool:
    """`?unread=1`: 1/true/yes/on or 0/false/no/off (any case); absent or empty is false."""
    value = params.get(name)
    if not value:
        return False
    text = value.lower()
    if text in TRUE_TEXTS:
        return True
    if text in FALSE_TEXTS:
        return False
    raise _failed(name, InputError("Use true or false (or 1 / 0)."))
