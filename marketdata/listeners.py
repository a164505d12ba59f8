"""Tick listeners: upper layers subscribe from AppConfig.ready(); every applied tick, from any
source, is handed to each of them in registration order (DESIGN.md: no hidden signals).

`marketdata.ingest.ticks_ingest` calls `dispatch_tick` in the ingesting process (a feed
process, or the web process that took an API push), synchronously, once per applied tick in
time order, after the quote and bar writes have committed. A listener that raises is logged
and skipped; the tick stays applied and the other listeners still run. Keep listeners fast
(index lookups, enqueue work) — they run on the tick path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class AppliedTick:
    """A validated tick that has updated the quote and bars."""

    symbol: str
    last: Decimal
    bid: Decimal | None
    ask: Decimal | None
    volume: Decimal
    ts: datetime


TickListener = Callable[[AppliedTick], object]
_listeners: list[tuple[str, TickListener]] = []


def register_tick_listener(name: str, listener: TickListener) -> None:
    """Idempotent by name, so a second ready() (tests, autoreload) doesn't double-fire."""
    for index, (existing, _) in enumerate(_listeners):
        if existing == name:
            _listeners[index] = (name, listener)
            return
    _listeners.append((name, listener))


def unregister_tick_listener(name: str) -> None:
    _listeners[:] = [(n, fn) for n, fn in _listeners if n != name]


def tick_listeners() -> tuple[TickListener, ...]:
    return tuple(fn for _, fn in _listeners)


logger = logging.getLogger(__name__)


def dispatch_tick(tick: AppliedTick) -> None:
    for name, listener in tuple(_listeners):
        try:
            listener(tick)
        except Exception:
            logger.exception("Tick listener %s failed on %s @ %s", name, tick.symbol, tick.ts)
