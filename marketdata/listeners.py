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

from oms_site.registry import LogAndContinue, Registry


@dataclass(frozen=True, slots=True)
class AppliedTick:
    """A validated tick that has updated the quote and bars."""

    symbol: str
    last: Decimal
    bid: Decimal | None
    ask: Decimal | None
    volume: Decimal
    ts: datetime
    # Sizes at the bid and ask when the source gave them; None: unknown (treated as unlimited).
    bid_size: Decimal | None = None
    ask_size: Decimal | None = None


TickListener = Callable[[AppliedTick], object]
TICK_LISTENERS: Registry[TickListener] = Registry("tick listener")
logger = logging.getLogger(__name__)


def register_tick_listener(name: str, listener: TickListener) -> None:
    """Idempotent by name, so a second ready() (tests, autoreload) doesn't double-fire."""
    TICK_LISTENERS.register(name, listener)


def unregister_tick_listener(name: str) -> None:
    TICK_LISTENERS.unregister(name)


def tick_listeners() -> tuple[TickListener, ...]:
    return TICK_LISTENERS.values()


_LOG_AND_CONTINUE = LogAndContinue(
    logger, "Tick listener %s failed on %s @ %s", describe=lambda tick: (tick.symbol, tick.ts)
)


def dispatch_tick(tick: AppliedTick) -> None:
    TICK_LISTENERS.call_all(tick, on_error=_LOG_AND_CONTINUE)
