"""Reads of execution: order-book depth, circuit-breaker states."""

from __future__ import annotations

from typing import Any

from execution.exchange.depth import depth_from_db, depth_snapshot_get
from execution.registry import broker_kinds

DEFAULT_DEPTH = 10


def orderbook_get(*, symbol: str, depth: int = DEFAULT_DEPTH) -> dict[str, Any]:
    """Depth of the internal exchange's book for an instrument, best price first.

    Fast path: the snapshot the shard worker writes to the cache after each command; else
    (no snapshot yet, or a cache without one) aggregated from the persisted open orders.
    NotFound for an unknown symbol.
    """
    from marketdata.selectors import instrument_get

    instrument = instrument_get(symbol=symbol)
    snapshot = depth_snapshot_get(symbol=instrument.symbol)
    if snapshot is None:
        return depth_from_db(symbol=instrument.symbol, depth=depth)
    return {**snapshot, "bids": snapshot["bids"][:depth], "asks": snapshot["asks"][:depth]}


def breaker_states() -> list[dict[str, Any]]:
    """The circuit breaker of every registered broker kind, as every process sees it."""
    from execution.services import broker_caller

    return [broker_caller(broker=kind).breaker.snapshot() for kind in broker_kinds()]
