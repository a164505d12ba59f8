"""An algo parent's plan (at placement: slice sizes, the VWAP volume profile) and its
timing (when each slice is due, when the algo ends). Used by the placement extension
(orders/automation/placement.py), the runner (orders/automation/algo_runner.py) and the
progress shown by the API (orders/automation/selectors.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime

from marketdata.models import Bar, Instrument
from oms_site.api import format_decimal
from orders.automation import algos
from orders.models import AlgoState, Order, OrderType

ZERO = Decimal("0")
VWAP_LOOKBACK_DAYS = 5


# --- planning (at placement) ---------------------------------------------------------------


def _profile(instrument: Instrument, now: datetime) -> dict[int, Decimal]:
    """Volume per UTC minute of the day over the instrument's 1-minute bars of the last
    OMS_VWAP_LOOKBACK_DAYS (5) days before today (today's own volume is not a profile)."""
    days = int(getattr(settings, "OMS_VWAP_LOOKBACK_DAYS", VWAP_LOOKBACK_DAYS))
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rows = Bar.objects.filter(
        instrument=instrument, ts__gte=today - timedelta(days=days), ts__lt=today
    ).values_list("ts", "volume")
    return algos.volume_profile([(ts.hour * 60 + ts.minute, volume) for ts, volume in rows])


def algo_plan(*, order: Order, raw: dict, instrument: Instrument, now: datetime) -> None:
    """Fill in `order.algo` / `algo_state` / `algo_next_at` for a new parent (not saved)."""
    params = algos.parse_algo(raw)
    state: dict[str, Any] = params.as_json()
    child_limit = params.limit_price
    if child_limit is None and order.type == OrderType.LIMIT:
        child_limit = order.limit_price
    state["child_limit_price"] = None if child_limit is None else format_decimal(child_limit)
    state["starts_at"] = now.isoformat()
    state["paused_secs"] = 0
    state["sent"] = 0
    if params.type == "iceberg":
        lots = -(-order.qty // params.display_qty)
        state["slices_total"] = int(lots)
    else:
        n = algos.slice_count(params, order.qty, instrument.lot_size)
        if params.type == "twap":
            sizes = algos.twap_slices(
                qty=order.qty,
                lot=instrument.lot_size,
                n=n,
                randomize_pct=params.randomize_pct,
                seed=str(order.pk),
            )
        else:
            weights = algos.vwap_weights(
                _profile(instrument, now),
                start_minute=now.hour * 60 + now.minute,
                interval_secs=params.interval_secs,
                n=n,
            )
            state["profile_volume"] = format_decimal(sum(weights, ZERO))
            sizes = algos.vwap_slices(qty=order.qty, lot=instrument.lot_size, weights=weights)
        state["slices_total"] = n
        state["slices"] = [format_decimal(size) for size in sizes]
        state["ends_at"] = (now + timedelta(seconds=params.horizon_secs)).isoformat()
    order.algo = state
    order.algo_state = AlgoState.RUNNING
    order.algo_next_at = now


# --- timing ----------------------------------------------------------------------------------


def algo_start_at(algo: dict) -> datetime:
    return parse_datetime(algo["starts_at"]) + timedelta(seconds=algo.get("paused_secs", 0))


def slice_due_at(algo: dict, index: int) -> datetime:
    return algo_start_at(algo) + timedelta(seconds=index * algo["interval_secs"])


def algo_ends_at(algo: dict) -> datetime | None:
    if algo["type"] == "iceberg":
        return None
    return algo_start_at(algo) + timedelta(seconds=algo["horizon_secs"])


def slices_due_count(algo: dict, now: datetime) -> int:
    n = algo["slices_total"]
    elapsed = (now - algo_start_at(algo)).total_seconds()
    if elapsed < 0:
        return 0
    return min(n, int(elapsed // algo["interval_secs"]) + 1)
