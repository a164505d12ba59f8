"""Property-based tests: random submit / cancel / modify sequences against one book.

After every operation we check

* invariants: the book is never crossed; depth agrees with the resting orders; for every order
  filled + resting + canceled == its (current) total qty; bought qty == sold qty;
* price-time priority, model-free: when a trade happens against maker M, every opposite order
  that rested at a better price before the operation has been completely used up, and every
  order ahead of M in its level has had its displayed qty taken first;
* a one-step oracle: a naive re-statement of the rules, started from the book's own snapshot
  before the operation, predicts the result and the queues afterwards. Starting from the real
  snapshot every step keeps failures local instead of letting a model drift.
"""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from execution.matching import ExecutionResult, Order, OrderBook, RestingOrder, Trade

ZERO = Decimal(0)
OWNERS = ("ann", "ben", "cat")
# Few price points, buys leaning low and sells high: queues build up at shared levels, and
# orders in the overlap (or repriced into it) cross and sweep several levels.
PRICES = [Decimal(99) + Decimal("0.5") * i for i in range(6)]
BUY_PRICES, SELL_PRICES = PRICES[:4], PRICES[2:]
RESTING_TIFS = ("day", "gtc", "gtd")

prices = st.sampled_from(PRICES)
qtys = st.integers(1, 12).map(Decimal)


@st.composite
def submit_ops(draw: st.DrawFn) -> tuple:
    side = draw(st.sampled_from(("buy", "sell")))
    order_type = draw(st.sampled_from(("limit",) * 7 + ("market",)))
    tif = draw(st.sampled_from(("gtc", "gtc", "gtc", "day", "gtd", "ioc", "fok")))
    display = None
    if order_type == "limit" and tif in RESTING_TIFS and draw(st.integers(0, 2)) == 0:
        display = Decimal(draw(st.integers(1, 4)))
    return (
        "submit",
        side,
        order_type,
        tif,
        draw(st.sampled_from(BUY_PRICES if side == "buy" else SELL_PRICES))
        if order_type == "limit"
        else None,
        draw(qtys),
        display,
        draw(st.sampled_from(OWNERS)),
    )


cancel_ops = st.tuples(st.just("cancel"), st.integers(0, 10_000))
modify_ops = st.tuples(
    st.just("modify"),
    st.integers(0, 10_000),
    st.one_of(st.none(), st.integers(1, 15).map(Decimal)),
    st.one_of(st.none(), prices),
)
operations = st.lists(
    st.one_of(submit_ops(), submit_ops(), submit_ops(), cancel_ops, modify_ops),
    min_size=12,
    max_size=60,
)


# --------------------------------------------------------------------------- one-step oracle


@dataclass
class Entry:
    order_id: str
    owner: str
    visible: Decimal
    hidden: Decimal
    display: Decimal | None
    total: Decimal
    filled: Decimal


# (status, filled, remaining, canceled, cancel_reason, reject_reason, [(maker, price, qty)])
Outcome = tuple[str, Decimal, Decimal, Decimal, str | None, str | None, list]


class Oracle:
    """The rules restated as plainly as possible, applied to a copy of the queues."""

    def __init__(self, snapshot: list[RestingOrder]) -> None:
        self.levels: dict[str, dict[Decimal, list[Entry]]] = {"buy": {}, "sell": {}}
        for r in snapshot:  # resting_orders() is in time priority order
            entry = Entry(
                r.order_id,
                r.owner,
                r.visible_qty,
                r.remaining_qty - r.visible_qty,
                r.display_qty,
                r.qty,
                r.filled_qty,
            )
            self.levels[r.side].setdefault(r.price, []).append(entry)

    def _walk(
        self, side: str, owner: str, limit: Decimal | None, qty: Decimal
    ) -> tuple[list, Decimal, bool]:
        opposite = self.levels["sell" if side == "buy" else "buy"]
        fills: list = []
        stopped = False
        for price in sorted(opposite, reverse=side == "sell"):
            if limit is not None and (price > limit if side == "buy" else price < limit):
                break
            queue = opposite[price]
            while queue and qty and not stopped:
                head = queue[0]
                if head.owner == owner:
                    stopped = True
                    break
                take = min(qty, head.visible)
                qty -= take
                head.visible -= take
                head.filled += take
                fills.append((head.order_id, price, take))
                if not head.visible:
                    queue.pop(0)
                    if head.hidden:
                        head.visible = min(head.display, head.hidden)
                        head.hidden -= head.visible
                        queue.append(head)
            if stopped or not qty:
                break
        for price in [p for p, queue in opposite.items() if not queue]:
            del opposite[price]
        return fills, qty, stopped

    def _rest(self, side: str, price: Decimal, entry: Entry, remaining: Decimal) -> None:
        entry.visible = remaining if entry.display is None else min(entry.display, remaining)
        entry.hidden = remaining - entry.visible
        self.levels[side].setdefault(price, []).append(entry)

    def _settle(self, order: Order, entry: Entry, remaining, stopped, fills) -> Outcome:
        filled = entry.total - remaining
        entry.filled = filled
        if not remaining:
            return ("filled", filled, ZERO, ZERO, None, None, fills)
        if stopped:
            return ("canceled", filled, ZERO, remaining, "self_trade", None, fills)
        if order.type == "market":
            return ("canceled", filled, ZERO, remaining, "market_no_liquidity", None, fills)
        if order.tif not in RESTING_TIFS:
            return ("canceled", filled, ZERO, remaining, order.tif, None, fills)
        self._rest(order.side, order.price, entry, remaining)
        status = "partially_filled" if filled else "new"
        return (status, filled, remaining, ZERO, None, None, fills)

    def submit(self, order: Order) -> Outcome:
        before = copy.deepcopy(self.levels) if order.tif == "fok" else self.levels
        fills, remaining, stopped = self._walk(order.side, order.owner, order.price, order.qty)
        if order.tif == "fok" and remaining:  # all or nothing: forget the walk
            self.levels = before
            return ("canceled", ZERO, ZERO, order.qty, "fok", None, [])
        entry = Entry(order.order_id, order.owner, ZERO, ZERO, order.display_qty, order.qty, ZERO)
        return self._settle(order, entry, remaining, stopped, fills)

    def _find(self, order_id: str) -> tuple[str, Decimal, Entry] | None:
        for side, levels in self.levels.items():
            for price, queue in levels.items():
                for entry in queue:
                    if entry.order_id == order_id:
                        return side, price, entry
        return None

    def _remove(self, side: str, price: Decimal, entry: Entry) -> None:
        self.levels[side][price].remove(entry)
        if not self.levels[side][price]:
            del self.levels[side][price]

    def cancel(self, order_id: str) -> Outcome | None:
        found = self._find(order_id)
        if found is None:
            return None
        side, price, entry = found
        self._remove(side, price, entry)
        left = entry.visible + entry.hidden
        return ("canceled", entry.filled, ZERO, left, "user", None, [])

    def modify(self, order: Order, new_qty: Decimal | None, new_price: Decimal | None):
        found = self._find(order.order_id)
        if found is None:
            return None
        side, price, entry = found
        resting = entry.visible + entry.hidden
        status = "partially_filled" if entry.filled else "new"
        if new_qty is not None and new_qty <= entry.filled:
            return ("rejected", entry.filled, resting, ZERO, None, "qty_not_above_filled", [])
        new_total = entry.total if new_qty is None else new_qty
        repriced = new_price is not None and new_price != price
        if not repriced and new_total <= entry.total:  # shrink in place (or no change)
            shrink = entry.total - new_total
            from_hidden = min(shrink, entry.hidden)
            entry.hidden -= from_hidden
            entry.visible -= shrink - from_hidden
            entry.total = new_total
            return (status, entry.filled, resting - shrink, ZERO, None, None, [])
        self._remove(side, price, entry)
        entry.total = new_total
        limit = new_price if repriced else price
        remaining = new_total - entry.filled
        fills, stopped = [], False
        if repriced:
            fills, remaining, stopped = self._walk(side, entry.owner, limit, remaining)
        order.price = limit  # _settle rests at the order's price
        return self._settle(order, entry, remaining, stopped, fills)

    def queues(self) -> dict:
        return {
            side: {
                price: [(e.order_id, e.visible, e.hidden, e.total, e.filled) for e in queue]
                for price, queue in levels.items()
            }
            for side, levels in self.levels.items()
        }


def actual_queues(book: OrderBook) -> dict:
    return Oracle(book.resting_orders()).queues()


def outcome(result: ExecutionResult | None) -> Outcome | None:
    if result is None:
        return None
    fills = [(t.maker_order_id, t.price, t.qty) for t in result.trades]
    return (
        result.status,
        result.filled_qty,
        result.remaining_qty,
        result.canceled_qty,
        result.cancel_reason,
        result.reject_reason,
        fills,
    )


# --------------------------------------------------------------------------- harness


class Harness:
    """Drives one book and keeps the per-order accounting the invariants need."""

    def __init__(self, book: OrderBook) -> None:
        self.book = book
        self.ids: list[str] = []
        self.orders: dict[str, Order] = {}  # inputs as submitted, for modify's oracle
        self.total: dict[str, Decimal] = {}
        self.filled: defaultdict[str, Decimal] = defaultdict(Decimal)
        self.canceled: defaultdict[str, Decimal] = defaultdict(Decimal)
        self.last_trade_id = 0

    def resolve(self, ref: int) -> str:
        """Mostly a resting order; every 4th ref any id so far (often no longer resting)."""
        resting = [r.order_id for r in self.book.resting_orders()]
        if ref % 4 != 3 and resting:
            return resting[ref // 4 % len(resting)]
        return self.ids[ref // 4 % len(self.ids)] if self.ids else "never-submitted"

    def apply(self, op: tuple) -> ExecutionResult | None:
        before = self.book.resting_orders()
        oracle = Oracle(before)
        kind = op[0]
        if kind == "submit":
            _, side, order_type, tif, price, qty, display, owner = op
            order_id = f"o{len(self.ids)}"
            order = Order(order_id, owner, side, order_type, tif, qty, price, display)
            self.ids.append(order_id)
            self.orders[order_id] = copy.copy(order)
            expected = oracle.submit(copy.copy(order))
            result = self.book.submit(order)
            self.total[order_id] = qty
            taker_side, limit = side, price
        elif kind == "cancel":
            order_id = self.resolve(op[1])
            expected = oracle.cancel(order_id)
            result = self.book.cancel(order_id)
            taker_side, limit = None, None
        else:
            _, ref, new_qty, new_price = op
            order_id = self.resolve(ref)
            source = self.orders.get(order_id)
            expected = None
            if source is not None:
                expected = oracle.modify(copy.copy(source), new_qty, new_price)
            result = self.book.modify(order_id, new_qty, new_price)
            if result is not None and result.status != "rejected" and new_qty is not None:
                self.total[order_id] = new_qty
            # a modify only trades when repriced, and then the new price is its limit
            taker_side = None if source is None else source.side
            limit = new_price

        assert outcome(result) == expected, op
        assert actual_queues(self.book) == oracle.queues(), op
        if result is not None:
            self.check_trades(result, before, taker_side, limit)
            self.canceled[order_id] += result.canceled_qty
        self.check_invariants(result, order_id)
        return result

    def check_trades(
        self,
        result: ExecutionResult,
        before: list[RestingOrder],
        taker_side: str | None,
        limit: Decimal | None,
    ) -> None:
        assert_price_time_priority(before, taker_side, result.trades)
        for trade in result.trades:
            assert trade.trade_id > self.last_trade_id
            self.last_trade_id = trade.trade_id
            assert trade.taker_order_id == result.order_id
            assert trade.aggressor_side == taker_side
            assert trade.maker_owner != trade.taker_owner
            if limit is not None:
                assert trade.price <= limit if taker_side == "buy" else trade.price >= limit
            self.filled[trade.maker_order_id] += trade.qty
            self.filled[trade.taker_order_id] += trade.qty

    def check_invariants(self, result: ExecutionResult | None, order_id: str) -> None:
        book = self.book
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid < ask, "book is crossed"

        resting = {r.order_id: r for r in book.resting_orders()}
        bids, asks = book.depth(levels=len(PRICES))
        for side, depth in (("buy", bids), ("sell", asks)):
            per_level: dict[Decimal, list[Decimal]] = defaultdict(list)
            for r in resting.values():
                if r.side == side:
                    per_level[r.price].append(r.visible_qty)
            expected = sorted(
                ((price, sum(qs), len(qs)) for price, qs in per_level.items()),
                reverse=side == "buy",
            )
            assert depth == expected

        for oid, total in self.total.items():
            left = resting[oid].remaining_qty if oid in resting else ZERO
            assert self.filled[oid] + left + self.canceled[oid] == total, oid
            if oid in resting:
                assert resting[oid].filled_qty == self.filled[oid]
        bought = sum(self.filled[oid] for oid in self.total if self.orders[oid].side == "buy")
        sold = sum(self.filled[oid] for oid in self.total if self.orders[oid].side == "sell")
        assert bought == sold

        if result is not None and result.status != "rejected":
            assert result.filled_qty == self.filled[order_id]
            left = resting[order_id].remaining_qty if order_id in resting else ZERO
            assert result.remaining_qty == left


def assert_price_time_priority(
    before: list[RestingOrder], taker_side: str | None, trades: list[Trade]
) -> None:
    """Model-free priority check of one operation's trades against the prior book."""
    if not trades:
        return
    opposite = [r for r in before if r.side != taker_side]
    by_id = {r.order_id: r for r in opposite}
    taken: Counter[str] = Counter()
    for trade in trades:
        maker = by_id[trade.maker_order_id]  # makers were resting on the opposite side
        assert trade.price == maker.price
        for other in opposite:
            better = other.price < maker.price if taker_side == "buy" else other.price > maker.price
            if better:
                assert taken[other.order_id] == other.remaining_qty, "better level left behind"
            elif other.price == maker.price and other.seq < maker.seq:
                assert taken[other.order_id] >= other.visible_qty, "queue jumped"
        taken[maker.order_id] += trade.qty
        assert taken[maker.order_id] <= maker.remaining_qty


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_random_operations_keep_invariants_and_match_the_rules(ops: list[tuple]):
    # given an empty book
    harness = Harness(OrderBook("PROP"))
    # when a random sequence of submits, cancels and modifies is applied
    # then every step matches the oracle and keeps the invariants (checked inside apply)
    for op in ops:
        harness.apply(op)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations, operations)
def test_rebuilt_book_behaves_exactly_like_the_original(prefix: list[tuple], suffix: list[tuple]):
    # given a book after some random history
    original = Harness(OrderBook("PROP"))
    for op in prefix:
        original.apply(op)
    # when a second book is rebuilt from its resting orders
    rebuilt_book = OrderBook("PROP")
    for r in original.book.resting_orders():
        rebuilt_book.load_resting(r.to_order(), r.filled_qty, r.visible_qty)
    assert actual_queues(rebuilt_book) == actual_queues(original.book)
    # then the same further operations produce the same results on both
    replica = Harness(rebuilt_book)
    replica.ids = list(original.ids)
    replica.orders = copy.deepcopy(original.orders)
    replica.total = dict(original.total)
    replica.filled = copy.copy(original.filled)
    replica.canceled = copy.copy(original.canceled)
    replica.last_trade_id = 0  # a fresh book numbers its trades from 1 again
    for op in suffix:
        assert outcome(original.apply(op)) == outcome(replica.apply(op))
    assert actual_queues(rebuilt_book) == actual_queues(original.book)
