"""In-memory trigger index for the trigger engine: stops, GTTs, bracket legs, trailing stops.

Pure Python (no Django); the DB layer builds it with ``TriggerIndex.load`` at start-up and
feeds it ticks with ``TriggerIndex.on_tick``. See :mod:`orders.triggers.index`.
"""

from orders.triggers.index import Direction, Trigger, TriggerIndex
from orders.triggers.trailing import (
    Side,
    StopChange,
    TickResult,
    TrailingBook,
    TrailingStop,
    trailing_stop_price,
)

__all__ = [
    "Direction",
    "Side",
    "StopChange",
    "TickResult",
    "TrailingBook",
    "TrailingStop",
    "Trigger",
    "TriggerIndex",
    "trailing_stop_price",
]
