"""One side of an order book: price levels, each an intrusive FIFO of resting orders.

Per side a ``dict`` price -> ``PriceLevel`` gives O(1) level lookup and a ``SortedList`` of
prices gives best-price access. Orders link to their neighbours directly (``Order._prev`` /
``Order._next``), so cancel and "move to back" are O(1) without lazy-deletion garbage.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from sortedcontainers import SortedList

from execution.matching.types import ZERO, Order, PriceLevel

DepthLevel = tuple[Decimal, Decimal, int]  # (price, visible_qty, order_count)


class BookSide:
    """Bids (``is_bid``) or asks. The matching loop reads ``levels``/``prices`` directly."""

    __slots__ = ("best_index", "is_bid", "levels", "prices")

    def __init__(self, *, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.levels: dict[Decimal, PriceLevel] = {}
        self.prices: SortedList = SortedList()  # ascending for both sides
        self.best_index = -1 if is_bid else 0  # highest bid, lowest ask

    def best_price(self) -> Decimal | None:
        return self.prices[self.best_index] if self.prices else None

    def beyond(self, price: Decimal, limit: Decimal | None) -> bool:
        """Whether a taker limited at ``limit`` must not trade with this side at ``price``."""
        if limit is None:
            return False
        return price < limit if self.is_bid else price > limit

    def crossed_by(self, limit: Decimal | None) -> bool:
        """Whether an incoming opposite order limited at ``limit`` would trade right now."""
        return bool(self.prices) and not self.beyond(self.prices[self.best_index], limit)

    def append(self, order: Order) -> None:
        """Queue ``order`` (with its visible/hidden qty set) at the back of its price level."""
        price = order.price  # resting orders are limit orders: never None here
        level = self.levels.get(price)
        if level is None:
            level = self.levels[price] = PriceLevel(price)
            self.prices.add(price)
        tail = level.tail
        if tail is None:
            level.head = order
        else:
            tail._next = order
        order._prev = tail
        order._next = None
        level.tail = order
        level.count += 1
        level.visible_qty += order.visible_qty
        order._level = level

    def unlink(self, order: Order) -> None:
        """Take a resting order out of its level, dropping the level if it empties."""
        level = order._level
        assert level is not None, "only resting orders can be unlinked"
        prev, nxt = order._prev, order._next
        if prev is None:
            level.head = nxt
        else:
            prev._next = nxt
        if nxt is None:
            level.tail = prev
        else:
            nxt._prev = prev
        order._prev = order._next = order._level = None
        level.count -= 1
        level.visible_qty -= order.visible_qty
        if not level.count:
            del self.levels[level.price]
            self.prices.remove(level.price)

    def prices_best_first(self) -> Iterator[Decimal]:
        return reversed(self.prices) if self.is_bid else iter(self.prices)

    def depth(self, n_levels: int) -> list[DepthLevel]:
        if n_levels <= 0:
            return []
        n = len(self.prices)
        if self.is_bid:
            best_first = self.prices.islice(max(0, n - n_levels), n, reverse=True)
        else:
            best_first = self.prices.islice(0, n_levels)
        levels = self.levels
        return [(p, levels[p].visible_qty, levels[p].count) for p in best_first]

    def orders(self) -> Iterator[Order]:
        """Every resting order, level by level in queue order."""
        for level in self.levels.values():
            order = level.head
            while order is not None:
                yield order
                order = order._next

    def order_count(self) -> int:
        return sum(level.count for level in self.levels.values())

    def can_fill(self, owner: str, limit: Decimal | None, need: Decimal) -> bool:
        """Whether a taker of ``owner`` could take ``need`` from this side right now (fok).

        A level's iceberg reserves are reachable only if no order of ``owner`` rests there:
        refilled slices queue behind that order, where self-trade prevention stops the taker.
        """
        for price in self.prices_best_first():
            if self.beyond(price, limit):
                return False
            reachable = ZERO
            reserve = ZERO
            order = self.levels[price].head
            while order is not None:
                if order.owner == owner:
                    return need <= reachable
                reachable += order.visible_qty
                reserve += order.hidden_qty
                order = order._next
            reachable += reserve
            if need <= reachable:
                return True
            need -= reachable
        return False
