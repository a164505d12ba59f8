"""A strategy's order defaults and the bracket they give an opening order. Pure Python.

    {"order_type": "market"|"limit", "time_in_force": "day"|"gtc"|"ioc"|"fok",
     "product": "delivery"|"intraday",
     "take_profit": {"ticks": n} | {"pct": p} | {"price": x},
     "stop_loss":   {"ticks": n} | {"pct": p} | {"price": x},
     "trailing":    {"trail_percent": p} | {"trail_price": x}}

A signal with a `price` is a limit order at that price whatever `order_type` says; a
`limit` default without a price in the signal sends a market order (there is nothing to
limit at). The bracket is attached to orders that open or add to a position; the signal's
own `stop` replaces the default stop-loss. `trailing`: once an opening order has filled, a
trailing stop for its quantity protects it (strategies/trailing.py), unless it carries a
stop-loss leg already.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

ZERO = Decimal("0")
HUNDRED = Decimal("100")
ORDER_TYPES = ("market", "limit")
TIMES_IN_FORCE = ("day", "gtc", "ioc", "fok")
PRODUCTS = ("intraday", "delivery")  # the order of orders.models.Product
OFFSET_KINDS = ("ticks", "pct", "price")
TRAILING_KINDS = ("trail_percent", "trail_price")


class DefaultsError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Offset:
    kind: str  # ticks | pct | price
    amount: Decimal


@dataclass(frozen=True, slots=True)
class OrderDefaults:
    order_type: str = "market"
    time_in_force: str = "day"
    product: str = "delivery"
    take_profit: Offset | None = None
    stop_loss: Offset | None = None
    trailing: Offset | None = None  # kind trail_percent | trail_price

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "order_type": self.order_type,
            "time_in_force": self.time_in_force,
            "product": self.product,
        }
        for name in ("take_profit", "stop_loss", "trailing"):
            offset = getattr(self, name)
            out[name] = (
                None if offset is None else {offset.kind: format(offset.amount.normalize(), "f")}
            )
        return out


def _choice(raw: dict, name: str, choices: tuple[str, ...], default: str) -> str:
    value = raw.get(name, default)
    if value is None:
        return default
    if value not in choices:
        raise DefaultsError(f"defaults.{name}", f"One of {', '.join(choices)}.")
    return value


def _offset(raw: object, name: str, kinds: tuple[str, ...] = OFFSET_KINDS) -> Offset | None:
    if raw is None:
        return None
    field = f"defaults.{name}"
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in kinds:
        raise DefaultsError(field, f"An object with one of {', '.join(kinds)}.")
    kind, value = next(iter(raw.items()))
    try:
        amount = Decimal(str(value)) if not isinstance(value, bool) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount <= ZERO:
        raise DefaultsError(f"{field}.{kind}", "Must be a positive number.")
    if amount.adjusted() > 11 or amount.as_tuple().exponent < -8:  # type: ignore[operator]
        raise DefaultsError(f"{field}.{kind}", "At most 12 digits before and 8 after the point.")
    if kind in ("pct", "trail_percent") and amount >= HUNDRED:
        raise DefaultsError(f"{field}.{kind}", "Below 100 (percent).")
    return Offset(kind=kind, amount=amount)


def defaults_parse(raw: object) -> OrderDefaults:
    if raw is None:
        return OrderDefaults()
    if not isinstance(raw, dict):
        raise DefaultsError("defaults", "Must be an object.")
    unknown = sorted(
        set(raw)
        - {"order_type", "time_in_force", "product", "take_profit", "stop_loss", "trailing"}
    )
    if unknown:
        raise DefaultsError(f"defaults.{unknown[0]}", "Unknown field.")
    return OrderDefaults(
        order_type=_choice(raw, "order_type", ORDER_TYPES, "market"),
        time_in_force=_choice(raw, "time_in_force", TIMES_IN_FORCE, "day"),
        product=_choice(raw, "product", PRODUCTS, "delivery"),
        take_profit=_offset(raw.get("take_profit"), "take_profit"),
        stop_loss=_offset(raw.get("stop_loss"), "stop_loss"),
        trailing=_offset(raw.get("trailing"), "trailing", TRAILING_KINDS),
    )


def to_tick(price: Decimal, tick_size: Decimal) -> Decimal:
    if tick_size <= ZERO:
        return price
    return (price / tick_size).to_integral_value(rounding=ROUND_HALF_UP) * tick_size


def _level(offset: Offset, *, side: str, ref: Decimal, tick_size: Decimal, profit: bool) -> Decimal:
    if offset.kind == "price":
        return to_tick(offset.amount, tick_size)
    distance = (
        offset.amount * tick_size if offset.kind == "ticks" else ref * offset.amount / HUNDRED
    )
    up = (side == "buy") == profit  # a buy's target is above, its stop below
    return to_tick(ref + distance if up else ref - distance, tick_size)


@dataclass(frozen=True, slots=True)
class Bracket:
    order_class: str  # simple | bracket | oto
    take_profit: dict[str, Decimal] | None = None
    stop_loss: dict[str, Decimal] | None = None


def bracket_for(
    defaults: OrderDefaults,
    *,
    side: str,
    ref: Decimal | None,
    signal_stop: Decimal | None,
    tick_size: Decimal,
) -> Bracket:
    """The exit legs an opening order carries (none without a reference price)."""
    take_profit = stop_loss = None
    if ref is not None and defaults.take_profit is not None:
        level = _level(defaults.take_profit, side=side, ref=ref, tick_size=tick_size, profit=True)
        take_profit = {"limit_price": level}
    if signal_stop is not None:
        stop_loss = {"stop_price": to_tick(signal_stop, tick_size)}
    elif ref is not None and defaults.stop_loss is not None:
        level = _level(defaults.stop_loss, side=side, ref=ref, tick_size=tick_size, profit=False)
        stop_loss = {"stop_price": level}
    if take_profit and stop_loss:
        return Bracket("bracket", take_profit, stop_loss)
    if take_profit or stop_loss:
        return Bracket("oto", take_profit, stop_loss)
    return Bracket("simple")
