"""Benchmark the matching engine against a naive baseline on one seeded mixed order stream.

Run from the repo root: ``python bench/matching.py [--ops N] [--seed S]``. Prints one JSON
object. The stream (passive adds at several levels around a drifting mid, cancels, modifies,
marketable limit/ioc/fok and market orders) is generated up front; the throughput loop still
builds each Order object, as a caller must. ``ops_per_s`` is the best of ``--repeat`` runs;
p50/p99 come from a separate run timing each engine call. The baseline runs the identical
stream, and its per-op outcomes and trades must equal the engine's or the script fails.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from execution.matching import Order, OrderBook

SUBMIT, CANCEL, MODIFY = 0, 1, 2
ZERO = Decimal(0)

# (kind, order spec | order_id, new_qty, new_price); order spec is Order's constructor args.
OpSpec = tuple[int, Any, Decimal | None, Decimal | None]


def generate_stream(n_ops: int, seed: int) -> list[OpSpec]:
    rng = random.Random(seed)
    mid = 10_000  # in ticks of 0.01
    owners = [f"acct{i}" for i in range(200)]
    cancelable: list[str] = []  # ids that may still rest (some will have filled meanwhile)
    ops: list[OpSpec] = []
    next_id = 0

    def price(ticks: int) -> Decimal:
        # A fresh Decimal per order, as a caller parsing input would produce.
        return Decimal(ticks).scaleb(-2)

    def pop_random_id() -> str:
        i = rng.randrange(len(cancelable))
        cancelable[i], cancelable[-1] = cancelable[-1], cancelable[i]
        return cancelable.pop()

    for _ in range(n_ops):
        if rng.random() < 0.01:
            mid += rng.choice((-1, 1))
        roll = rng.random()
        # Cancel more eagerly once many ids are outstanding so the book reaches a steady size.
        cancel_share = 0.30 if len(cancelable) < 1000 else 0.42
        if roll < cancel_share and cancelable:
            ops.append((CANCEL, pop_random_id(), None, None))
            continue
        if roll < cancel_share + 0.08 and cancelable:
            order_id = cancelable[rng.randrange(len(cancelable))]
            kind = rng.random()
            if kind < 0.5:
                ops.append((MODIFY, order_id, Decimal(rng.randint(1, 10)), None))
            elif kind < 0.75:
                ops.append((MODIFY, order_id, Decimal(rng.randint(10, 40)), None))
            else:
                ops.append((MODIFY, order_id, None, price(mid + rng.randint(-8, 8))))
            continue
        next_id += 1
        order_id = f"o{next_id}"
        owner = rng.choice(owners)
        side = "buy" if rng.random() < 0.5 else "sell"
        sign = 1 if side == "buy" else -1  # buys cross upwards, sells downwards
        roll = rng.random()
        if roll < 0.72:  # passive limit, occasionally an iceberg
            ticks = mid - sign * rng.randint(1, 10)
            if rng.random() < 0.1:
                spec = (order_id, owner, side, "limit", "gtc", Decimal(rng.randint(20, 60)))
                spec += (price(ticks), Decimal(5))
            else:
                tif = "gtc" if rng.random() < 0.5 else "day"
                spec = (order_id, owner, side, "limit", tif, Decimal(rng.randint(1, 20)))
                spec += (price(ticks), None)
            cancelable.append(order_id)
        elif roll < 0.92:  # marketable limit crossing a few levels
            tif = rng.choices(("gtc", "ioc", "fok"), (0.6, 0.3, 0.1))[0]
            ticks = mid + sign * rng.randint(1, 4)
            spec = (order_id, owner, side, "limit", tif, Decimal(rng.randint(1, 40)))
            spec += (price(ticks), None)
            if tif == "gtc":
                cancelable.append(order_id)
        else:
            spec = (order_id, owner, side, "market", "ioc", Decimal(rng.randint(1, 30)), None, None)
        ops.append((SUBMIT, spec, None, None))
    return ops


# --------------------------------------------------------------------------- naive baseline


@dataclass(slots=True, eq=False)
class NaiveOrder:
    order_id: str
    owner: str
    side: str
    type: str
    tif: str
    qty: Decimal
    price: Decimal | None
    display_qty: Decimal | None
    filled: Decimal = ZERO
    visible: Decimal = ZERO
    hidden: Decimal = ZERO
    seq: int = 0


class NaiveBook:
    """Baseline: one flat list of resting orders, scanned for the best order on every fill.

    Same semantics as OrderBook, implemented the obvious way; results are (status, filled,
    resting, canceled, reason, trades) tuples with trades as (maker, taker, price, qty).
    """

    def __init__(self) -> None:
        self.orders: list[NaiveOrder] = []
        self.seq = 0

    def _best(self, side: str) -> NaiveOrder | None:
        best = None
        for o in self.orders:
            if o.side != side:
                continue
            if (
                best is None
                or (o.price < best.price if side == "sell" else o.price > best.price)
                or (o.price == best.price and o.seq < best.seq)
            ):
                best = o
        return best

    def _walk(self, taker: NaiveOrder, remaining: Decimal, trades: list) -> tuple[Decimal, bool]:
        opposite = "sell" if taker.side == "buy" else "buy"
        while remaining:
            maker = self._best(opposite)
            if maker is None:
                break
            if taker.price is not None and (
                maker.price > taker.price if taker.side == "buy" else maker.price < taker.price
            ):
                break
            if maker.owner == taker.owner:
                return remaining, True
            qty = min(remaining, maker.visible)
            remaining -= qty
            maker.visible -= qty
            maker.filled += qty
            if not maker.visible and maker.hidden:
                maker.visible = min(maker.display_qty, maker.hidden)
                maker.hidden -= maker.visible
                self.seq += 1
                maker.seq = self.seq
            trades.append((maker.order_id, taker.order_id, maker.price, qty))
            if not maker.visible:
                self.orders.remove(maker)
        return remaining, False

    def _rest(self, order: NaiveOrder, remaining: Decimal) -> None:
        display = order.display_qty
        order.visible = display if display is not None and display < remaining else remaining
        order.hidden = remaining - order.visible
        self.seq += 1
        order.seq = self.seq
        self.orders.append(order)

    def _settle(self, order: NaiveOrder, remaining: Decimal, stp: bool, trades: list) -> tuple:
        order.filled = order.qty - remaining
        if not remaining:
            return ("filled", order.filled, ZERO, ZERO, None, trades)
        if stp:
            reason = "self_trade"
        elif order.type == "market":
            reason = "market_no_liquidity"
        elif order.tif in ("day", "gtc", "gtd"):
            self._rest(order, remaining)
            status = "partially_filled" if order.filled else "new"
            return (status, order.filled, remaining, ZERO, None, trades)
        else:
            reason = order.tif
        return ("canceled", order.filled, ZERO, remaining, reason, trades)

    def submit(self, order: NaiveOrder) -> tuple:
        if order.tif == "fok":
            # Dry run against copies of the book, then throw the copies away.
            saved = [(o, o.visible, o.hidden, o.filled, o.seq) for o in self.orders]
            saved_seq = self.seq
            left, _ = self._walk(order, order.qty, [])
            for o, visible, hidden, filled, seq in saved:
                o.visible, o.hidden, o.filled, o.seq = visible, hidden, filled, seq
            self.orders = [o for o, *_ in saved]
            self.seq = saved_seq
            if left:
                return ("canceled", ZERO, ZERO, order.qty, "fok", [])
        trades: list = []
        remaining, stp = self._walk(order, order.qty, trades)
        return self._settle(order, remaining, stp, trades)

    def _find(self, order_id: str) -> NaiveOrder | None:
        return next((o for o in self.orders if o.order_id == order_id), None)

    def cancel(self, order_id: str) -> tuple | None:
        order = self._find(order_id)
        if order is None:
            return None
        self.orders.remove(order)
        return ("canceled", order.filled, ZERO, order.visible + order.hidden, "user", [])

    def modify(self, order_id: str, new_qty: Decimal | None, new_price: Decimal | None):
        order = self._find(order_id)
        if order is None:
            return None
        resting = order.visible + order.hidden
        status = "partially_filled" if order.filled else "new"
        if new_qty is not None and new_qty <= order.filled:
            return ("rejected", order.filled, resting, ZERO, None, [])
        new_total = order.qty if new_qty is None else new_qty
        price_changed = new_price is not None and new_price != order.price
        if not price_changed and new_total <= order.qty:
            shrink = order.qty - new_total
            cut_hidden = min(shrink, order.hidden)
            order.hidden -= cut_hidden
            order.visible -= shrink - cut_hidden
            order.qty = new_total
            return (status, order.filled, resting - shrink, ZERO, None, [])
        self.orders.remove(order)
        order.qty = new_total
        if new_price is not None:
            order.price = new_price
        trades: list = []
        remaining, stp = self._walk(order, new_total - order.filled, trades)
        return self._settle(order, remaining, stp, trades)


# --------------------------------------------------------------------------- harness


def run_engine_throughput(ops: list[OpSpec]) -> float:
    """Seconds to run the stream, building each Order in the loop as a caller would."""
    book = OrderBook("BENCH")
    submit, cancel, modify = book.submit, book.cancel, book.modify
    start = time.perf_counter()
    for kind, a, b, c in ops:
        if kind == SUBMIT:
            submit(Order(*a))
        elif kind == CANCEL:
            cancel(a)
        else:
            modify(a, b, c)
    return time.perf_counter() - start


def run_engine_latency(ops: list[OpSpec]) -> tuple[list[int], list[tuple | None]]:
    """Per-operation latency (ns, engine call only) and normalized outcomes."""
    book = OrderBook("BENCH")
    submit, cancel, modify = book.submit, book.cancel, book.modify
    clock = time.perf_counter_ns
    latencies: list[int] = []
    outcomes: list[tuple | None] = []
    for kind, a, b, c in ops:
        if kind == SUBMIT:
            order = Order(*a)
            t0 = clock()
            r = submit(order)
        elif kind == CANCEL:
            t0 = clock()
            r = cancel(a)
        else:
            t0 = clock()
            r = modify(a, b, c)
        latencies.append(clock() - t0)
        outcomes.append(_normalize(r))
    return latencies, outcomes


def _normalize(r: Any) -> tuple | None:
    if r is None:
        return None
    trades = [(t.maker_order_id, t.taker_order_id, t.price, t.qty) for t in r.trades]
    return (r.status, r.filled_qty, r.remaining_qty, r.canceled_qty, r.cancel_reason, trades)


def run_baseline(ops: list[OpSpec]) -> tuple[float, list[tuple | None]]:
    book = NaiveBook()
    outcomes: list[tuple | None] = []
    start = time.perf_counter()
    for kind, a, b, c in ops:
        if kind == SUBMIT:
            r = book.submit(NaiveOrder(*a))
        elif kind == CANCEL:
            r = book.cancel(a)
        else:
            r = book.modify(a, b, c)
        outcomes.append(r)
    return time.perf_counter() - start, outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="throughput runs, best is kept")
    args = parser.parse_args()

    ops = generate_stream(args.ops, args.seed)
    best_s = min(run_engine_throughput(ops) for _ in range(args.repeat))
    latencies, outcomes = run_engine_latency(ops)
    baseline_s, baseline_outcomes = run_baseline(ops)
    if baseline_outcomes != outcomes:
        pairs = enumerate(zip(baseline_outcomes, outcomes, strict=True))
        first = next(i for i, (expected, actual) in pairs if expected != actual)
        sys.exit(
            f"engine and baseline disagree at op {first}: "
            f"engine={outcomes[first]!r} baseline={baseline_outcomes[first]!r}"
        )

    quantiles = statistics.quantiles(latencies, n=100)
    ops_per_s = len(ops) / best_s
    baseline_ops_per_s = len(ops) / baseline_s
    report = {
        "ops": len(ops),
        "ops_per_s": round(ops_per_s),
        "p50_us": round(quantiles[49] / 1000, 2),
        "p99_us": round(quantiles[98] / 1000, 2),
        "baseline_ops_per_s": round(baseline_ops_per_s),
        "speedup": round(ops_per_s / baseline_ops_per_s, 1),
        "mix": {
            name: sum(1 for op in ops if op[0] == kind)
            for name, kind in (("submit", SUBMIT), ("cancel", CANCEL), ("modify", MODIFY))
        },
        "trades": sum(len(o[5]) for o in outcomes if o is not None),
        "results_match": True,
        "outcome_digest": hashlib.sha256(repr(outcomes).encode()).hexdigest()[:16],
        "seed": args.seed,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
