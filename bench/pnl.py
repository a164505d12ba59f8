"""PnL benchmarks. Prints ONE JSON object.

Run from the repo root: ``python bench/pnl.py``.

Keys
----
core_fills_per_s  incremental ``PositionState.apply`` (Match objects built) on a seeded
                  stream mixing opens, partial closes and flips; best of several runs.
rebuild_1m_s      ``rebuild()`` of one account from 1,000,000 in-memory Fill objects.
                  Building the Fill objects (i.e. loading rows) is NOT timed.

Each benchmark is a function returning ``{key: value}``; ``main`` merges them, so a DB
benchmark (e.g. ``bench_service`` -> "service_fills_per_s") slots in beside them.
"""

from __future__ import annotations

import gc
import json
import random
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from pnl.fifo import BUY, SELL, Fill, PositionState, rebuild  # noqa: E402

SEED = 20_240_601
CORE_FILLS = 200_000
CORE_RUNS = 5
REBUILD_FILLS = 1_000_000


def generate_fills(count: int, *, seed: int = SEED) -> list[Fill]:
    """A deterministic fill stream: ~45% adds, ~40% partial/full closes, ~15% flips.

    Prices random-walk in paise around 100.00; qtys are whole units with an occasional
    fractional lot; fees are a few rupees. Decimal objects are shared through caches so
    a million fills fit in memory comfortably.
    """
    rng = random.Random(seed)
    price_cache: dict[int, Decimal] = {}
    qty_cache: dict[int, Decimal] = {}

    def money(paise: int, cache: dict[int, Decimal]) -> Decimal:
        value = cache.get(paise)
        if value is None:
            value = cache[paise] = Decimal(paise).scaleb(-2)
        return value

    fills: list[Fill] = []
    position_centi = 0  # signed qty in hundredths, tracked to steer opens/closes/flips
    price_paise = 10_000
    for fill_id in range(1, count + 1):
        price_paise = max(1, price_paise + rng.randint(-25, 25))
        size_centi = rng.randint(1, 200) * 100 + (rng.choice((0, 0, 0, 50)))
        roll = rng.random()
        if position_centi == 0 or roll < 0.45:
            # open / add in the direction of the position (random when flat)
            if position_centi > 0:
                buy = True
            elif position_centi < 0:
                buy = False
            else:
                buy = rng.random() < 0.5
        elif roll < 0.85:
            # close part or all of the position
            buy = position_centi < 0
            size_centi = min(size_centi, abs(position_centi))
        else:
            # flip: close everything and open the remainder on the other side
            buy = position_centi < 0
            size_centi += abs(position_centi)
        position_centi += size_centi if buy else -size_centi
        fills.append(
            Fill(
                fill_id=fill_id,
                side=BUY if buy else SELL,
                qty=money(size_centi, qty_cache),
                price=money(price_paise, price_cache),
                fee=money(rng.randint(0, 2_000), price_cache),
            )
        )
    return fills


def bench_core() -> dict[str, float]:
    """Incremental apply throughput on a pure PositionState (matches materialised)."""
    fills = generate_fills(CORE_FILLS)
    best = float("inf")
    for _ in range(CORE_RUNS):
        state = PositionState(multiplier=Decimal(1))
        apply = state.apply
        started = time.perf_counter()
        for fill in fills:
            apply(fill)
        best = min(best, time.perf_counter() - started)
    return {"core_fills_per_s": round(CORE_FILLS / best)}


def bench_rebuild() -> dict[str, float]:
    """Full replay of one account's 1M-fill history."""
    fills = generate_fills(REBUILD_FILLS, seed=SEED + 1)
    gc.collect()
    started = time.perf_counter()
    rebuild(fills, multiplier=Decimal(1))
    elapsed = time.perf_counter() - started
    return {"rebuild_1m_s": round(elapsed, 3)}


BENCHMARKS: tuple[Callable[[], dict[str, float]], ...] = (bench_core, bench_rebuild)


def main() -> None:
    results: dict[str, float] = {}
    for benchmark in BENCHMARKS:
        results.update(benchmark())
    print(json.dumps(results))


if __name__ == "__main__":
    main()
