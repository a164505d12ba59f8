"""Single-symbol limit order book with price-time priority matching.

Self-trade prevention ("cancel newest"): when the next resting order an incoming order would
trade with belongs to the same ``owner``, the incoming order's remaining quantity is canceled
right there with reason ``'self_trade'``; trades already done stay, the resting order is untouched.
A fok order counts only the liquidity it could reach before hitting its own resting order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal

from execution.matching.levels import BookSide, DepthLevel
from execution.matching.types import (
    RESTING_TIFS,
    ZERO,
    CancelReason,
    ExecutionResult,
    Order,
    RestingOrder,
    Trade,
)
from execution.matching.validation import modify_problem, new_order_problem, resting_problem


class OrderBook:
    """Order book for one symbol. Not thread-safe: drive it from a single thread/task."""

    def __init__(
        self,
        symbol: str,
        *,
        trade_ids: Iterator[int] | None = None,
        order_index: dict[str, Order] | None = None,
    ) -> None:
        """``trade_ids``/``order_index`` let an engine share trade numbering and order-id
        uniqueness across its books; a standalone book gets its own."""
        self.symbol = symbol
        self._bids = BookSide(is_bid=True)
        self._asks = BookSide(is_bid=False)
        self._orders: dict[str, Order] = {} if order_index is None else order_index
        self._trade_ids: Iterator[int] = itertools.count(1) if trade_ids is None else trade_ids
        self._seq = 0  # time-priority stamps
        self._trade_seq = 0

    # ------------------------------------------------------------------ commands

    def submit(self, order: Order) -> ExecutionResult:
        """Match ``order`` against the book, then rest / cancel its remainder per type and tif.

        Invalid input is reported as a ``'rejected'`` result (the order object is not touched).
        """
        problem = new_order_problem(order, self._orders)
        if problem is not None:
            return ExecutionResult(
                order.order_id, "rejected", ZERO, ZERO, [], reject_reason=problem
            )
        order.symbol = self.symbol
        order.filled_qty = ZERO
        order.visible_qty = order.hidden_qty = ZERO
        qty = order.qty
        limit = order.price
        is_buy = order.side == "buy"

        opposite = self._asks if is_buy else self._bids
        if order.tif == "fok" and not opposite.can_fill(order.owner, limit, qty):
            order.status = "canceled"
            return ExecutionResult(order.order_id, "canceled", ZERO, ZERO, [], qty, "fok")

        trades: list[Trade] = []
        remaining = qty
        self_trade = False
        if opposite.crossed_by(limit):
            remaining, self_trade = self._match(order, is_buy, limit, remaining, trades)
        return self._finish(order, remaining, self_trade, trades)

    def cancel(self, order_id: str, reason: CancelReason = "user") -> ExecutionResult | None:
        """Cancel a resting order; None if it is unknown here or no longer resting."""
        order = self._orders.get(order_id)
        if order is None or order.symbol != self.symbol:
            return None
        remaining = order.visible_qty + order.hidden_qty
        self._side(order).unlink(order)
        del self._orders[order_id]
        order.visible_qty = order.hidden_qty = ZERO
        order.status = "canceled"
        return ExecutionResult(order_id, "canceled", order.filled_qty, ZERO, [], remaining, reason)

    def modify(
        self,
        order_id: str,
        new_qty: Decimal | None = None,
        new_price: Decimal | None = None,
    ) -> ExecutionResult | None:
        """Change a resting order's total qty (including filled) and/or limit price.

        A pure size decrease keeps time priority (an iceberg gives up reserve first); a price
        change or size increase moves the order to the back of its (new) level with a fresh
        iceberg slice, and a price that crosses the book trades at once as an incoming order
        would (self-trade prevention included; any remainder rests). A ``new_qty`` at or below
        the filled qty, or other invalid input, is rejected with nothing changed. A modify that
        changes nothing returns the current state. None if the order is not resting here.
        """
        order = self._orders.get(order_id)
        if order is None or order.symbol != self.symbol:
            return None
        problem = modify_problem(order, new_qty, new_price)
        if problem is not None:
            return self._state_result(order, reject_reason=problem)
        new_total = order.qty if new_qty is None else new_qty
        price_changed = new_price is not None and new_price != order.price
        if not price_changed and new_total == order.qty:
            return self._state_result(order)

        if not price_changed and new_total < order.qty:
            # Shrink in place, reserve first, so the displayed slice keeps its queue position.
            shrink = order.qty - new_total
            hidden = order.hidden_qty
            if shrink <= hidden:
                order.hidden_qty = hidden - shrink
            else:
                order.hidden_qty = ZERO
                cut = shrink - hidden
                order.visible_qty -= cut
                order._level.visible_qty -= cut  # resting => has a level
            order.qty = new_total
            return self._state_result(order)

        # Loses priority: take it out and re-enter it like a fresh order with its prior fills.
        self._side(order).unlink(order)
        del self._orders[order_id]
        remaining = new_total - order.filled_qty
        order.qty = new_total
        order.visible_qty = order.hidden_qty = ZERO
        if new_price is not None:
            order.price = new_price
        limit = order.price
        is_buy = order.side == "buy"
        trades: list[Trade] = []
        self_trade = False
        if price_changed and (self._asks if is_buy else self._bids).crossed_by(limit):
            remaining, self_trade = self._match(order, is_buy, limit, remaining, trades)
        return self._finish(order, remaining, self_trade, trades)

    def load_resting(
        self,
        order: Order,
        filled_qty: Decimal = ZERO,
        visible_qty: Decimal | None = None,
    ) -> None:
        """Rebuild helper: rest a persisted open limit order at the back of its level, no matching.

        Call in original time-priority order (e.g. ``resting_orders()`` order) to reproduce the
        queues. ``visible_qty`` restores a partly consumed iceberg slice (default: a full slice).
        Raises ValueError on invalid or crossing input: a bad snapshot must not start trading.
        """
        problem = resting_problem(order, filled_qty, visible_qty, self._orders)
        if problem is None:
            opposite = self._asks if order.side == "buy" else self._bids
            if opposite.crossed_by(order.price):
                problem = "would_cross_book"
        if problem is not None:
            raise ValueError(f"cannot load order {order.order_id!r}: {problem}")
        order.symbol = self.symbol
        order.filled_qty = filled_qty
        remaining = order.qty - filled_qty
        self._rest(order, remaining)
        if visible_qty is not None:
            # Restore the persisted slice; the rest of the remainder goes back to the reserve.
            order._level.visible_qty += visible_qty - order.visible_qty
            order.visible_qty = visible_qty
            order.hidden_qty = remaining - visible_qty
        order.status = "partially_filled" if filled_qty else "new"

    # ------------------------------------------------------------------ queries

    def best_bid(self) -> Decimal | None:
        return self._bids.best_price()

    def best_ask(self) -> Decimal | None:
        return self._asks.best_price()

    def depth(self, levels: int = 10) -> tuple[list[DepthLevel], list[DepthLevel]]:
        """Top ``levels`` per side, best first: (price, visible_qty, order_count)."""
        return self._bids.depth(levels), self._asks.depth(levels)

    def get_order(self, order_id: str) -> RestingOrder | None:
        """Snapshot of a resting order of this book, None if not resting here."""
        order = self._orders.get(order_id)
        if order is None or order.symbol != self.symbol:
            return None
        return RestingOrder.of(order)

    def resting_orders(self) -> list[RestingOrder]:
        """All resting orders in time-priority order (oldest ``seq`` first).

        Within each price level this is exactly the queue order, so feeding the list to
        ``load_resting`` of an empty book reproduces this book.
        """
        snapshots = [
            RestingOrder.of(order) for side in (self._bids, self._asks) for order in side.orders()
        ]
        snapshots.sort(key=lambda snapshot: snapshot.seq)
        return snapshots

    def __len__(self) -> int:
        """Number of resting orders."""
        return self._bids.order_count() + self._asks.order_count()

    # ------------------------------------------------------------------ internals

    def _finish(
        self, order: Order, remaining: Decimal, self_trade: bool, trades: list[Trade]
    ) -> ExecutionResult:
        """Settle an order that has finished matching: filled, rested, or remainder canceled."""
        filled = order.qty - remaining
        order.filled_qty = filled
        if not remaining:
            order.status = "filled"
            return ExecutionResult(order.order_id, "filled", filled, ZERO, trades)
        reason: CancelReason
        if self_trade:
            reason = "self_trade"
        elif order.type == "market":
            reason = "market_no_liquidity"
        elif order.tif in RESTING_TIFS:
            self._rest(order, remaining)
            status = order.status = "partially_filled" if filled else "new"
            return ExecutionResult(order.order_id, status, filled, remaining, trades)
        else:
            reason = "fok" if order.tif == "fok" else "ioc"  # fok: unreachable, can_fill() held
        order.status = "canceled"
        return ExecutionResult(order.order_id, "canceled", filled, ZERO, trades, remaining, reason)

    def _state_result(self, order: Order, reject_reason: str | None = None) -> ExecutionResult:
        return ExecutionResult(
            order.order_id,
            "rejected" if reject_reason else order.status,
            order.filled_qty,
            order.visible_qty + order.hidden_qty,
            [],
            reject_reason=reject_reason,
        )

    def _rest(self, order: Order, remaining: Decimal) -> None:
        """Append ``order`` with ``remaining`` qty to the back of its price level."""
        display = order.display_qty
        if display is not None and display < remaining:
            order.visible_qty = display
            order.hidden_qty = remaining - display
        else:
            order.visible_qty = remaining
            order.hidden_qty = ZERO
        self._side(order).append(order)
        self._seq += 1
        order.seq = self._seq
        self._orders[order.order_id] = order

    def _side(self, order: Order) -> BookSide:
        return self._bids if order.side == "buy" else self._asks

    def _match(
        self,
        taker: Order,
        is_buy: bool,
        limit: Decimal | None,
        remaining: Decimal,
        trades: list[Trade],
    ) -> tuple[Decimal, bool]:
        """Trade ``remaining`` of ``taker`` against the opposite side, best price then FIFO.

        Appends to ``trades``; returns (unfilled qty, stopped by self-trade prevention).
        Hot path: everything is inlined and bound to locals on purpose.
        """
        opposite = self._asks if is_buy else self._bids
        prices, levels, best = opposite.prices, opposite.levels, opposite.best_index
        taker_id = taker.order_id
        taker_owner = taker.owner
        side = taker.side
        symbol = self.symbol
        trade_ids = self._trade_ids
        orders = self._orders
        trade_seq = self._trade_seq
        self_trade = False
        while prices:
            price = prices[best]
            if limit is not None and (price > limit if is_buy else price < limit):
                break
            level = levels[price]
            maker = level.head
            while maker is not None:
                if maker.owner == taker_owner:
                    self_trade = True
                    break
                visible = maker.visible_qty
                if remaining < visible:
                    qty = remaining
                    maker.visible_qty = visible - remaining
                    remaining = ZERO
                else:
                    qty = visible
                    remaining -= visible
                    maker.visible_qty = ZERO
                maker.filled_qty += qty
                level.visible_qty -= qty
                if maker.visible_qty:
                    maker.status = "partially_filled"
                    maker_left = maker.visible_qty + maker.hidden_qty
                elif maker.hidden_qty:
                    # Iceberg slice consumed: refill from the reserve and requeue at the back.
                    maker_left = hidden = maker.hidden_qty
                    display = maker.display_qty  # icebergs only have a reserve
                    refill = display if display < hidden else hidden
                    maker.visible_qty = refill
                    maker.hidden_qty = hidden - refill
                    level.visible_qty += refill
                    maker.status = "partially_filled"
                    nxt = maker._next
                    if nxt is not None:
                        level.head = nxt
                        nxt._prev = None
                        tail = level.tail  # non-empty level: maker is head, nxt is behind
                        tail._next = maker
                        maker._prev = tail
                        maker._next = None
                        level.tail = maker
                    self._seq += 1
                    maker.seq = self._seq
                else:
                    maker_left = ZERO
                    maker.status = "filled"
                    nxt = maker._next
                    level.head = nxt
                    if nxt is None:
                        level.tail = None
                    else:
                        nxt._prev = None
                    maker._next = maker._level = None
                    level.count -= 1
                    del orders[maker.order_id]
                trade_seq += 1
                trades.append(
                    Trade(
                        next(trade_ids),
                        symbol,
                        price,
                        qty,
                        maker.order_id,
                        taker_id,
                        maker.owner,
                        taker_owner,
                        side,
                        trade_seq,
                        maker_left,
                    )
                )
                if not remaining:
                    break
                maker = level.head
            if not level.count:
                del levels[price]
                prices.pop(best)
            if self_trade or not remaining:
                break
        self._trade_seq = trade_seq
        return remaining, self_trade
