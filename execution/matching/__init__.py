"""Pure-Python price-time priority matching engine (no Django; stdlib + sortedcontainers).

See ``book.py`` for matching semantics, including self-trade prevention.
"""

from execution.matching.book import OrderBook
from execution.matching.engine import MatchingEngine
from execution.matching.levels import DepthLevel
from execution.matching.types import (
    ZERO,
    CancelReason,
    ExecutionResult,
    Order,
    OrderStatus,
    OrderType,
    RestingOrder,
    Side,
    TimeInForce,
    Trade,
)

__all__ = [
    "ZERO",
    "CancelReason",
    "DepthLevel",
    "ExecutionResult",
    "MatchingEngine",
    "Order",
    "OrderBook",
    "OrderStatus",
    "OrderType",
    "RestingOrder",
    "Side",
    "TimeInForce",
    "Trade",
]
