"""Reading a signal's body (API.md § Strategies and signals). No Django models.

The body is JSON whatever its Content-Type: TradingView sends `text/plain` when the alert
text is not strict JSON to its parser, and cannot set headers. Numbers are read as
Decimal, never float. Keys other than the contract's are kept in the log and ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from oms_site.errors import ValidationFailed
from oms_site.json_input import JsonTooDeep, json_depth_check
from oms_site.parsing import InputError, datetime_from_text, decimal_from_input
from strategies.sizing import ACTIONS

MAX_SENDER_ID = 128
MAX_SYMBOL = 64


@dataclass(frozen=True, slots=True)
class SignalInput:
    symbol: str
    action: str | None  # buy | sell | exit | reverse; None for a position target
    position: Decimal | None
    qty: Decimal | None
    price: Decimal | None
    stop: Decimal | None
    sender_id: str | None
    ts: datetime | None


def _bad(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", fields={field: [message]})


def body_load(raw: bytes) -> dict[str, Any]:
    """The JSON object of a signal body; 400 naming the problem otherwise."""
    try:
        text = raw.decode("utf-8")
        json_depth_check(text)
        data = json.loads(text, parse_float=Decimal)
    except UnicodeDecodeError as exc:
        raise _bad("body", "The body is not UTF-8 text.") from exc
    except JsonTooDeep as exc:
        raise _bad("body", str(exc)) from exc
    except json.JSONDecodeError as exc:
        raise _bad("body", f"The body is not JSON ({exc.msg} at character {exc.pos}).") from exc
    if not isinstance(data, dict):
        raise _bad("body", "The body must be a JSON object.")
    return data


def _decimal(data: dict[str, Any], name: str, *, positive: bool) -> Decimal | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    try:
        number = decimal_from_input(value)
    except InputError as exc:
        raise _bad(name, exc.message) from exc
    if positive and number <= 0:
        raise _bad(name, "Must be positive.")
    if number.adjusted() > 11 or number.as_tuple().exponent < -8:  # type: ignore[operator]
        raise _bad(name, "At most 12 digits before and 8 after the point.")
    return number


def _timestamp(value: Any) -> datetime | None:
    """ISO 8601 with an offset (TradingView's {{timenow}}) or Unix seconds (or ms)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _bad("ts", "Use ISO 8601 with an offset or Unix seconds.")
    digits = isinstance(value, str) and value.isascii() and value.isdigit()
    if isinstance(value, int | Decimal) or digits:
        seconds = Decimal(str(value))
        if seconds > 10**11:  # milliseconds
            seconds /= 1000
        try:
            return datetime.fromtimestamp(float(seconds), tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise _bad("ts", "Out of range.") from exc
    if not isinstance(value, str):
        raise _bad("ts", "Use ISO 8601 with an offset or Unix seconds.")
    try:
        return datetime_from_text(value)
    except InputError as exc:
        raise _bad("ts", exc.message) from exc


def signal_input_parse(data: dict[str, Any]) -> SignalInput:
    """The signal in `data` (a loaded body); 400 naming the first problem."""
    symbol = data.get("symbol")
    if isinstance(symbol, int) and not isinstance(symbol, bool):
        symbol = str(symbol)  # a numeric code (a BSE scrip code) sent as a JSON number
    if symbol is not None and not isinstance(symbol, str):
        raise _bad("symbol", "Must be text: the alert's ticker.")
    if not symbol or not symbol.strip():
        raise _bad("symbol", "Required: the alert's ticker.")
    if len(symbol) > MAX_SYMBOL:
        raise _bad("symbol", f"At most {MAX_SYMBOL} characters.")
    action = data.get("action")
    has_position = data.get("position") is not None
    if action is None and not has_position:
        raise _bad("action", f"Give an action ({', '.join(ACTIONS)}) or a target position.")
    if action is not None and has_position:
        raise _bad("position", "Give either an action or a target position, not both.")
    if action is not None:
        if not isinstance(action, str) or action.lower() not in ACTIONS:
            raise _bad("action", f"One of {', '.join(ACTIONS)}.")
        action = action.lower()
    sender_id = data.get("id")
    if sender_id is not None:
        if isinstance(sender_id, bool) or not isinstance(sender_id, str | int):
            raise _bad("id", "Must be a string.")
        sender_id = str(sender_id)
        if not sender_id or len(sender_id) > MAX_SENDER_ID:
            raise _bad("id", f"1 to {MAX_SENDER_ID} characters.")
    position = _decimal(data, "position", positive=False)
    if action is None and position is None:  # "position": "" is not a flat target
        raise _bad("position", "Must be a number: the signed target position.")
    return SignalInput(
        symbol=symbol.strip(),
        action=action,
        position=position,
        qty=_decimal(data, "qty", positive=True),
        price=_decimal(data, "price", positive=True),
        stop=_decimal(data, "stop", positive=True),
        sender_id=sender_id,
        ts=_timestamp(data.get("ts")),
    )
