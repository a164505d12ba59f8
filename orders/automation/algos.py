"""Execution algorithms, the pure part: parameter checks and slice schedules (no Django).

A parent order with an `algo` is never sent to a venue itself; it releases child orders
("slices") that are. The Django side (orders/automation/algo_schedule.py and
algo_runner.py) stores the schedule this
module computes on the parent and places slice *i* when its time comes, under the
deterministic client_order_id `algo-<parent id>-<i>`, so running a step twice never places
a slice twice.

* ``twap``: `horizon_secs` cut into ``n = ceil(horizon / interval)`` slices, one every
  `interval_secs` from the start. Sizes are the even share randomised by up to
  ``randomize_pct`` (default 20 %) either way, on the lot grid, summing exactly to the
  quantity; the random stream is seeded by the parent's id (same id → same schedule).
* ``vwap``: the same time grid, sizes proportional to an intraday volume profile (the
  instrument's 1-minute bars of the last days, summed per minute of the day): more is
  sent when the market usually trades more. No history → even slices.
* ``iceberg``: not time driven: one child of `display_qty` at a time, the next one when
  the previous one has filled.

Every size is a positive multiple of the lot size and the slices sum to the quantity.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from oms_site.parsing import InputError, decimal_from_input

ZERO = Decimal("0")
MAX_SLICES = 1000
DEFAULT_RANDOMIZE_PCT = Decimal("20")


class AlgoError(ValueError):
    """Bad algo parameters: `field` names the offending key."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class AlgoParams:
    type: str
    horizon_secs: int | None = None
    interval_secs: int | None = None
    limit_price: Decimal | None = None
    display_qty: Decimal | None = None
    randomize_pct: Decimal = DEFAULT_RANDOMIZE_PCT

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type in ("twap", "vwap"):
            out["horizon_secs"] = self.horizon_secs
            out["interval_secs"] = self.interval_secs
            out["randomize_pct"] = str(self.randomize_pct)
        if self.limit_price is not None:
            out["limit_price"] = str(self.limit_price)
        if self.display_qty is not None:
            out["display_qty"] = str(self.display_qty)
        return out


def _int(raw: Mapping[str, Any], name: str) -> int:
    value = raw.get(name)
    if value is None or isinstance(value, bool):
        raise AlgoError(name, "Required: a whole number of seconds.")
    try:
        number = decimal_from_input(value)
    except InputError as exc:
        raise AlgoError(name, "Must be a whole number of seconds.") from exc
    if not number.is_finite() or number != number.to_integral_value() or number <= 0:
        raise AlgoError(name, "Must be a positive whole number of seconds.")
    return int(number)


def _decimal(raw: Mapping[str, Any], name: str) -> Decimal | None:
    value = raw.get(name)
    if value is None:
        return None
    try:
        number = decimal_from_input(value)
    except InputError as exc:
        raise AlgoError(name, exc.message) from exc
    if not number.is_finite() or number <= 0:
        raise AlgoError(name, "Must be positive.")
    return number


ALGO_TYPES = ("twap", "vwap", "iceberg")
_KEYS = {
    "twap": {"type", "horizon_secs", "interval_secs", "limit_price", "randomize_pct"},
    "vwap": {"type", "horizon_secs", "interval_secs", "limit_price", "randomize_pct"},
    "iceberg": {"type", "display_qty"},
}


def parse_algo(raw: Mapping[str, Any]) -> AlgoParams:
    """Type-check the `algo` object of an order request (AlgoError naming the key)."""
    if not isinstance(raw, Mapping):
        raise AlgoError("type", "algo must be an object.")
    algo_type = raw.get("type")
    if algo_type not in ALGO_TYPES:
        raise AlgoError("type", "Use twap, vwap or iceberg.")
    unknown = sorted(set(raw) - _KEYS[algo_type])
    if unknown:
        raise AlgoError(unknown[0], f"Not a parameter of {algo_type}.")
    if algo_type == "iceberg":
        display = _decimal(raw, "display_qty")
        if display is None:
            raise AlgoError("display_qty", "Required for iceberg.")
        return AlgoParams(type=algo_type, display_qty=display)
    horizon = _int(raw, "horizon_secs")
    interval = _int(raw, "interval_secs")
    if interval > horizon:
        raise AlgoError("interval_secs", "Must not be longer than horizon_secs.")
    if math.ceil(horizon / interval) > MAX_SLICES:
        raise AlgoError("interval_secs", f"At most {MAX_SLICES} slices (horizon / interval).")
    randomize = DEFAULT_RANDOMIZE_PCT
    if raw.get("randomize_pct") is not None:
        try:
            randomize = decimal_from_input(raw["randomize_pct"])
        except InputError as exc:
            raise AlgoError("randomize_pct", exc.message) from exc
        if not randomize.is_finite() or not ZERO <= randomize < 100:
            raise AlgoError("randomize_pct", "Must be from 0 up to (not including) 100.")
    return AlgoParams(
        type=algo_type,
        horizon_secs=horizon,
        interval_secs=interval,
        limit_price=_decimal(raw, "limit_price"),
        randomize_pct=randomize,
    )


def slice_count(params: AlgoParams, qty: Decimal, lot: Decimal) -> int:
    """Number of time slices: one per interval, but never more than the quantity has lots."""
    lots = int(qty / lot)
    wanted = math.ceil(params.horizon_secs / params.interval_secs)
    return max(1, min(wanted, lots))


def _lots(qty: Decimal, lot: Decimal) -> int:
    lots = qty / lot
    if lots != lots.to_integral_value():
        raise AlgoError("qty", "Must be a multiple of the lot size.")
    return int(lots)


def allocate(total_lots: int, weights: Sequence[Decimal]) -> list[int]:
    """Split `total_lots` whole lots proportionally to `weights` (largest remainder), each
    slice getting at least one lot when there are enough lots. Sum is exact."""
    n = len(weights)
    if n == 0:
        return []
    if total_lots < n:
        raise ValueError("fewer lots than slices")
    weight_sum = sum(weights, ZERO)
    if weight_sum <= 0:
        weights = [Decimal(1)] * n
        weight_sum = Decimal(n)
    # Reserve one lot per slice, spread the rest by weight.
    spare = total_lots - n
    raw = [Decimal(spare) * w / weight_sum for w in weights]
    base = [int(r.to_integral_value(rounding=ROUND_FLOOR)) for r in raw]
    left = spare - sum(base)
    order = sorted(range(n), key=lambda i: (raw[i] - base[i], -i), reverse=True)
    for i in order[:left]:
        base[i] += 1
    return [1 + b for b in base]


def twap_lots(total_lots: int, n: int, randomize_pct: Decimal, seed: str) -> list[int]:
    """Even lots per slice, each moved by up to ±randomize_pct % (seeded), sum exact."""
    rng = random.Random(seed)
    span = float(randomize_pct) / 100.0
    weights = [Decimal(str(round(1.0 + rng.uniform(-span, span), 6))) for _ in range(n)]
    return allocate(total_lots, weights)


def twap_slices(
    *, qty: Decimal, lot: Decimal, n: int, randomize_pct: Decimal, seed: str
) -> list[Decimal]:
    total = _lots(qty, lot)
    return [lot * k for k in twap_lots(total, n, randomize_pct, seed)]


def vwap_weights(
    profile: Mapping[int, Decimal], *, start_minute: int, interval_secs: int, n: int
) -> list[Decimal]:
    """Weight of each slice = the profile's volume over the minutes-of-day it covers.

    `profile` maps minute of the day (0..1439, UTC) to the usual volume traded in it;
    `start_minute` is the minute of the day the algo starts. Slices shorter than a minute
    take their minute's volume pro rata.
    """
    weights: list[Decimal] = []
    for i in range(n):
        begin = start_minute * 60 + i * interval_secs
        end = begin + interval_secs
        weight = ZERO
        second = begin
        while second < end:
            minute = (second // 60) % 1440
            minute_end = (second // 60 + 1) * 60
            take = min(end, minute_end) - second
            weight += profile.get(minute, ZERO) * Decimal(take) / Decimal(60)
            second += take
        weights.append(weight)
    return weights


def vwap_slices(*, qty: Decimal, lot: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    total = _lots(qty, lot)
    return [lot * k for k in allocate(total, list(weights))]


def volume_profile(bars: Sequence[tuple[int, Decimal]]) -> dict[int, Decimal]:
    """(minute of day, volume) pairs of past 1-minute bars → summed volume per minute."""
    profile: dict[int, Decimal] = {}
    for minute, volume in bars:
        profile[minute] = profile.get(minute, ZERO) + Decimal(volume)
    return profile


def slice_due_offsets(*, n: int, interval_secs: int) -> list[int]:
    """Seconds after the start at which each slice is due: 0, interval, 2×interval, …"""
    return [i * interval_secs for i in range(n)]


def iceberg_next_qty(*, qty: Decimal, display_qty: Decimal, allotted: Decimal) -> Decimal:
    """Size of the next iceberg child: display_qty, or what is left of the parent."""
    left = qty - allotted
    return min(display_qty, left) if left > 0 else ZERO
