"""Pure tick parsing and validation (no Django): raw input → `ParsedTick` or a `TickRejected`.

Every tick source (API push, simulator, replay, outside adapters) hands raw values to
`parse_tick`; the ingest service adds the checks that need state (known symbol, ordering).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from oms_site.parsing import InputError, datetime_from_text, decimal_from_input

# Why a tick was not applied. Stable strings: they appear in API results and feed counters.
UNKNOWN_SYMBOL = "unknown_symbol"
INVALID_PRICE = "invalid_price"
CROSSED_QUOTE = "crossed_quote"
INVALID_VOLUME = "invalid_volume"
INVALID_TIME = "invalid_time"
INVALID_SYMBOL = "invalid_symbol"
STALE = "stale"  # older than the instrument's current quote: dropped, never applied

# A tick stamped further ahead than this is rejected: one bad clock must not freeze a symbol
# (every later, correctly stamped tick would be "older than the current quote").
MAX_FUTURE_SKEW = timedelta(minutes=5)
_ZERO = Decimal(0)


class TickRejected(ValueError):
    def __init__(self, reason: str, field: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class ParsedTick:
    symbol: str
    last: Decimal
    bid: Decimal | None
    ask: Decimal | None
    volume: Decimal
    ts: datetime  # aware, UTC
    # Optional sizes at the bid and ask (None: not given — venues treat the side as unlimited).
    bid_size: Decimal | None = None
    ask_size: Decimal | None = None


@dataclass(frozen=True, slots=True)
class IngestResult:
    """The verdict on one tick: applied, or dropped with a reason (see the constants above)."""

    symbol: str
    applied: bool
    reason: str | None = None
    message: str = ""
    ts: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"symbol": self.symbol, "applied": self.applied}
        if self.reason:
            out["reason"] = self.reason
            out["message"] = self.message
        out["ts"] = self.ts.isoformat().replace("+00:00", "Z") if self.ts else None
        return out


def _decimal(value: Any, field: str, *, reason: str, optional: bool) -> Decimal | None:
    if value is None or value == "":
        if optional:
            return None
        raise TickRejected(reason, field, f"{field} is required.")
    try:
        return decimal_from_input(value)
    except InputError as exc:
        raise TickRejected(reason, field, f"{field}: {exc.message}") from exc


def parse_price(value: Any, field: str, *, optional: bool = False) -> Decimal | None:
    price = _decimal(value, field, reason=INVALID_PRICE, optional=optional)
    if price is not None and price <= _ZERO:
        raise TickRejected(INVALID_PRICE, field, f"{field} must be positive.")
    return price


def parse_ts(value: Any, *, now: datetime | None) -> datetime:
    """ISO 8601 with an offset (or an aware datetime, or epoch seconds); None means `now`.

    With now=None any time is accepted (query parameters), but a value is required.
    """
    if value is None or value == "":
        if now is None:
            raise TickRejected(INVALID_TIME, "ts", "ts is required.")
        return now
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) / 1000 if abs(value) > 1e11 else float(value)  # epoch ms or s
        try:
            ts = datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise TickRejected(INVALID_TIME, "ts", "ts is out of range.") from exc
    elif isinstance(value, str):
        try:  # with an offset, within the range where UTC conversion cannot overflow
            ts = datetime_from_text(value)
        except InputError as exc:
            raise TickRejected(INVALID_TIME, "ts", f"ts: {exc.message}") from exc
    else:
        raise TickRejected(INVALID_TIME, "ts", "ts must be an ISO 8601 time.")
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise TickRejected(INVALID_TIME, "ts", "ts needs a UTC offset (e.g. Z or +05:30).")
    ts = ts.astimezone(UTC)
    if now is not None and ts > now + MAX_FUTURE_SKEW:
        raise TickRejected(INVALID_TIME, "ts", "ts is in the future.")
    return ts


def parse_tick(raw: Mapping[str, Any], *, now: datetime) -> ParsedTick:
    """Validate one raw tick; raises TickRejected naming the first bad field."""
    if not isinstance(raw, Mapping):
        raise TickRejected(INVALID_SYMBOL, "non_field_errors", "A tick must be an object.")
    symbol = raw.get("symbol")
    if not isinstance(symbol, str) or not symbol.strip() or len(symbol.strip()) > 32:
        raise TickRejected(INVALID_SYMBOL, "symbol", "symbol is required.")
    last = parse_price(raw.get("last"), "last")
    bid = parse_price(raw.get("bid"), "bid", optional=True)
    ask = parse_price(raw.get("ask"), "ask", optional=True)
    if bid is not None and ask is not None and bid > ask:
        raise TickRejected(CROSSED_QUOTE, "bid", "bid must not be above ask.")
    volume = _decimal(raw.get("volume"), "volume", reason=INVALID_VOLUME, optional=True)
    if volume is None:
        volume = _ZERO
    elif volume < _ZERO:
        raise TickRejected(INVALID_VOLUME, "volume", "volume must not be negative.")
    ts = parse_ts(raw.get("ts"), now=now)
    assert last is not None
    return ParsedTick(
        symbol=symbol.strip().upper(),
        last=last,
        bid=bid,
        ask=ask,
        volume=volume,
        ts=ts,
        bid_size=_size(raw.get("bid_size"), "bid_size"),
        ask_size=_size(raw.get("ask_size"), "ask_size"),
    )


def _size(value: Any, field: str) -> Decimal | None:
    size = _decimal(value, field, reason=INVALID_VOLUME, optional=True)
    if size is not None and size <= _ZERO:
        raise TickRejected(INVALID_VOLUME, field, f"{field} must be positive.")
    return size
