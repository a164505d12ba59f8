"""How much each account trades for a signal, and which order(s) that takes. Pure Python
(no Django): strategies/fanout.py feeds it the account's numbers.

Sizing rules (API.md § Strategies and signals), per account:
    {"type": "fixed_qty", "qty"} | {"type": "fixed_value", "value"} |
    {"type": "equity_pct", "pct"} | {"type": "risk_pct", "pct"} |
    {"type": "multiplier", "factor"}, optional "min_qty" / "max_qty".
The sized quantity is clamped to [min_qty, max_qty], then rounded DOWN to the lot size.

Planning: every action becomes a signed target for the account's net quantity (its
position plus its strategy orders still working), bounded by the direction mode and the
max position; the order(s) sent are the difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation

ZERO = Decimal("0")
HUNDRED = Decimal("100")

RULE_FIELDS: dict[str, str] = {
    "fixed_qty": "qty",
    "fixed_value": "value",
    "equity_pct": "pct",
    "risk_pct": "pct",
    "multiplier": "factor",
}
ACTIONS = ("buy", "sell", "exit", "reverse")


class SizingRuleError(ValueError):
    """A sizing rule that cannot be used; `field` names the offending key."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class SizingRule:
    type: str
    amount: Decimal  # qty, value, pct or factor, by type
    min_qty: Decimal | None = None
    max_qty: Decimal | None = None

    def as_json(self) -> dict[str, str]:
        out = {"type": self.type, RULE_FIELDS[self.type]: _text(self.amount)}
        if self.min_qty is not None:
            out["min_qty"] = _text(self.min_qty)
        if self.max_qty is not None:
            out["max_qty"] = _text(self.max_qty)
        return out


def _text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def _positive(raw: object, field: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | str | Decimal | float):
        raise SizingRuleError(field, "Must be a positive decimal.")
    try:
        value = Decimal(str(raw))
    except InvalidOperation as exc:
        raise SizingRuleError(field, "Must be a positive decimal.") from exc
    if not value.is_finite() or value <= ZERO:
        raise SizingRuleError(field, "Must be a positive decimal.")
    if value.as_tuple().exponent < -8 or value.adjusted() > 11:  # type: ignore[operator]
        raise SizingRuleError(field, "At most 12 digits before and 8 after the point.")
    return value


def parse_rule(raw: object) -> SizingRule:
    """A sizing rule from its JSON form; SizingRuleError names the bad key."""
    if not isinstance(raw, dict):
        raise SizingRuleError("sizing", "Must be an object with a type.")
    kind = raw.get("type")
    if kind not in RULE_FIELDS:
        raise SizingRuleError("sizing.type", f"One of {', '.join(RULE_FIELDS)}.")
    amount_field = RULE_FIELDS[kind]
    unknown = sorted(set(raw) - {"type", amount_field, "min_qty", "max_qty"})
    if unknown:
        raise SizingRuleError(f"sizing.{unknown[0]}", f"Unknown field for {kind} sizing.")
    if amount_field not in raw:
        raise SizingRuleError(f"sizing.{amount_field}", f"{kind} sizing needs {amount_field}.")
    amount = _positive(raw[amount_field], f"sizing.{amount_field}")
    if kind in ("equity_pct", "risk_pct") and amount > HUNDRED:
        raise SizingRuleError(f"sizing.{amount_field}", "At most 100 (percent).")
    min_qty = (
        _positive(raw["min_qty"], "sizing.min_qty") if raw.get("min_qty") is not None else None
    )
    max_qty = (
        _positive(raw["max_qty"], "sizing.max_qty") if raw.get("max_qty") is not None else None
    )
    if min_qty is not None and max_qty is not None and min_qty > max_qty:
        raise SizingRuleError("sizing.min_qty", "Must not be above max_qty.")
    return SizingRule(type=kind, amount=amount, min_qty=min_qty, max_qty=max_qty)


def round_down_to_lot(qty: Decimal, lot_size: Decimal) -> Decimal:
    """Whole lots only, towards zero (never more than sized)."""
    if lot_size <= ZERO:
        return qty
    lots = (qty / lot_size).to_integral_value(rounding=ROUND_DOWN)
    return lots * lot_size


@dataclass(frozen=True, slots=True)
class Sized:
    qty: Decimal  # unsigned, whole lots; 0 with a reason when none
    reason: str | None = None


def size(
    rule: SizingRule,
    *,
    signal_qty: Decimal | None,
    price: Decimal | None,
    stop: Decimal | None,
    equity: Decimal,
    lot_size: Decimal,
) -> Sized:
    """The unsigned quantity `rule` gives for one signal on one account."""
    if rule.type == "fixed_qty":
        raw = rule.amount
    elif rule.type == "multiplier":
        if signal_qty is None:
            return Sized(ZERO, "Multiplier sizing needs the signal's qty.")
        raw = abs(signal_qty) * rule.amount
    else:
        if price is None or price <= ZERO:
            return Sized(ZERO, f"{rule.type} sizing needs a price (signal price or last).")
        if rule.type == "fixed_value":
            raw = rule.amount / price
        elif rule.type == "equity_pct":
            raw = equity * rule.amount / HUNDRED / price
        else:  # risk_pct: lose pct of equity if the stop is hit
            if stop is None:
                return Sized(ZERO, "risk_pct sizing needs the signal's stop.")
            distance = abs(price - stop)
            if distance == ZERO:
                return Sized(ZERO, "risk_pct sizing: the stop equals the price.")
            raw = equity * rule.amount / HUNDRED / distance
    if rule.min_qty is not None:
        raw = max(raw, rule.min_qty)
    if rule.max_qty is not None:
        raw = min(raw, rule.max_qty)
    qty = round_down_to_lot(raw, lot_size)
    if qty <= ZERO:
        return Sized(ZERO, f"Sizing rounds to zero lots (lot size {_text(lot_size)}).")
    return Sized(qty)


# --- planning the orders -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Leg:
    side: str  # buy | sell
    qty: Decimal
    opening: bool  # adds exposure from flat or in the same direction (gets the bracket)


@dataclass(frozen=True, slots=True)
class Plan:
    legs: tuple[Leg, ...]
    target: Decimal
    reason: str | None = None


def _sign(value: Decimal) -> int:
    return (value > ZERO) - (value < ZERO)


def bounds(
    *, direction: str, max_position: Decimal | None
) -> tuple[Decimal | None, Decimal | None]:
    """The lowest and highest net quantity allowed (None: unbounded)."""
    low = None if max_position is None else -max_position
    high = max_position
    if direction == "long_only":
        low = ZERO
    elif direction == "short_only":
        high = ZERO
    return low, high


def _leg(net: Decimal, target: Decimal) -> Leg:
    delta = target - net
    opening = net * target >= ZERO and abs(target) > abs(net)
    return Leg(side="buy" if delta > ZERO else "sell", qty=abs(delta), opening=opening)


def plan(
    *,
    action: str | None,
    sized: Sized,
    target: Decimal | None,
    net: Decimal,
    direction: str,
    max_position: Decimal | None,
    lot_size: Decimal,
) -> Plan:
    """The order(s) that move the account's `net` to where the signal wants it.

    `action` buy/sell/exit/reverse with the `sized` quantity, or `action` None and a
    signed `target` position (already sized for this account)."""
    if action == "exit":
        wanted = ZERO
    elif action == "reverse":
        if net == ZERO:
            return Plan((), net, "No position to reverse.")
        if sized.reason:
            return Plan((), net, sized.reason)
        wanted = -_sign(net) * sized.qty
    elif action in ("buy", "sell"):
        if sized.reason:
            return Plan((), net, sized.reason)
        wanted = net + (sized.qty if action == "buy" else -sized.qty)
    else:
        assert target is not None
        wanted = target
    low, high = bounds(direction=direction, max_position=max_position)
    allowed = wanted
    if low is not None and allowed < low:
        allowed = low
    if high is not None and allowed > high:
        allowed = high
    if _sign(allowed - net) != _sign(wanted - net):
        allowed = net  # the bound would move the position the other way: do nothing
    # Whole lots only, never beyond what was asked or allowed.
    step = round_down_to_lot(abs(allowed - net), lot_size)
    allowed = net + _sign(allowed - net) * step
    if allowed == net:
        if wanted == net:
            return Plan((), net, "Already at the target position.")
        return Plan((), net, _bound_reason(wanted, low, high, direction))
    if _sign(net) * _sign(allowed) < 0 and action == "reverse":
        # Flatten first, then open the other side: two orders, each judged by risk.
        return Plan((_leg(net, ZERO), _leg(ZERO, allowed)), allowed)
    reason = None if allowed == wanted else _bound_reason(wanted, low, high, direction)
    return Plan((_leg(net, allowed),), allowed, reason)


def _bound_reason(
    wanted: Decimal, low: Decimal | None, high: Decimal | None, direction: str
) -> str:
    if direction == "long_only" and wanted < ZERO:
        return "The strategy is long only."
    if direction == "short_only" and wanted > ZERO:
        return "The strategy is short only."
    limit = high if wanted > ZERO else low
    return f"Max position {_text(abs(limit or ZERO))} per symbol."
