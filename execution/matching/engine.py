"""Multi-symbol front end: one OrderBook per symbol, engine-wide order ids and trade ids."""

from __future__ import annotations

import itertools
from decimal import Decimal

from execution.matching.book import OrderBook
from execution.matching.types import ZERO, CancelReason, ExecutionResult, Order


class MatchingEngine:
    """Routes orders to per-symbol books.

    Order ids are unique across all books while resting, so ``cancel``/``modify`` need no
    symbol; trade ids come from one counter shared by all books.
    """

    def __init__(self) -> None:
        self._books: dict[str, OrderBook] = {}
        # Shared with every book: the one index of resting orders by id.
        self._orders: dict[str, Order] = {}
        self._trade_ids = itertools.count(1)

    def book(self, symbol: str) -> OrderBook:
        """The book for ``symbol``, created empty on first use."""
        book = self._books.get(symbol)
        if book is None:
            book = self._books[symbol] = OrderBook(
                symbol, trade_ids=self._trade_ids, order_index=self._orders
            )
        return book

    def get_book(self, symbol: str) -> OrderBook | None:
        """The book for ``symbol`` if one exists (never creates)."""
        return self._books.get(symbol)

    @property
    def symbols(self) -> list[str]:
        return list(self._books)

    def submit(self, symbol: str, order: Order) -> ExecutionResult:
        return self.book(symbol).submit(order)

    def cancel(self, order_id: str, reason: CancelReason = "user") -> ExecutionResult | None:
        """Cancel a resting order by id; None if no book has it resting."""
        order = self._orders.get(order_id)
        if order is None:
            return None
        return self._books[order.symbol].cancel(order_id, reason)

    def modify(
        self,
        order_id: str,
        new_qty: Decimal | None = None,
        new_price: Decimal | None = None,
    ) -> ExecutionResult | None:
        """Modify a resting order by id (see ``OrderBook.modify``); None if not resting."""
        order = self._orders.get(order_id)
        if order is None:
            return None
        return self._books[order.symbol].modify(order_id, new_qty, new_price)

    def load_resting(
        self,
        symbol: str,
        order: Order,
        filled_qty: Decimal = ZERO,
        visible_qty: Decimal | None = None,
    ) -> None:
        """Rebuild helper, see ``OrderBook.load_resting``."""
        self.book(symbol).load_resting(order, filled_qty, visible_qty)
