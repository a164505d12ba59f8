"""Seeded geometric Brownian motion per instrument (no Django).

    S(t+dt) = S(t) · exp((μ − σ²/2)·dt + σ·√dt·Z),   Z ~ N(0, 1)

μ (drift) and σ (volatility) are annualised; dt is the wall-clock step × `time_scale`
expressed in *trading* years (252 days × 6.25 h), so a 30 % volatility moves like a real
stock during market hours. The model state is a float (it is a random process, not money);
every emitted price is a Decimal rounded to the instrument's tick size. Each instrument has
its own RNG seeded from (seed, symbol), so its path does not depend on which other
instruments are simulated.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

from marketdata.feeds.base import RawTick

TRADING_YEAR_SECONDS = 252 * Decimal("6.25") * 3600
GBM_CONTEXT = Context(prec=28)


@dataclass(frozen=True)
class SimParams:
    symbol: str
    start_price: Decimal
    tick_size: Decimal = Decimal("0.05")
    lot_size: Decimal = Decimal("1")
    drift: float = 0.0
    volatility: float = 0.30
    spread_ticks: int = 2  # ask − bid, in ticks


def round_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    """The nearest positive multiple of `tick` (at least one tick)."""
    ticks = price / tick
    steps = max(1, int(ticks.to_integral_value(rounding=ROUND_HALF_EVEN)))
    return tick * steps


class GbmPath:
    """One instrument's seeded GBM price path."""

    def __init__(self, params: SimParams, *, seed: int, time_scale: float = 1.0) -> None:
        self.params = params
        self.time_scale = time_scale
        self.rng = random.Random(f"{seed}:{params.symbol}")
        self.price = Decimal(params.start_price)

    def step(self, dt_seconds: float) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """Advance by `dt_seconds`; returns (last, bid, ask, volume), all on tick/lot grids."""
        p = self.params
        # The model's inputs (annualised μ, σ, a normal shock) are floats; the price path
        # itself is Decimal, so the ticks it yields never went through binary floating point.
        dt = Decimal(repr(max(dt_seconds, 0.0) * self.time_scale)) / TRADING_YEAR_SECONDS
        shock = Decimal(repr(self.rng.gauss(0.0, 1.0)))
        drift, volatility = Decimal(repr(p.drift)), Decimal(repr(p.volatility))
        with localcontext(GBM_CONTEXT):
            exponent = (drift - volatility * volatility / 2) * dt + volatility * dt.sqrt() * shock
            self.price = +(self.price * exponent.exp())
        if self.price < p.tick_size:
            self.price = p.tick_size  # a price never reaches zero
        last = round_to_tick(self.price, p.tick_size)
        below = p.spread_ticks // 2
        bid = max(p.tick_size, last - p.tick_size * below)
        ask = bid + p.tick_size * max(1, p.spread_ticks)
        volume = p.lot_size * self.rng.randint(1, 50)
        return last, bid, ask, volume


class SimulatorAdapter:
    """A FeedAdapter generating ticks: each instrument ticks about every `interval` seconds
    (jittered ±50 %, seeded)."""

    name = "simulator"

    def __init__(
        self,
        params: Sequence[SimParams],
        *,
        seed: int = 42,
        interval: float = 0.5,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._now = now
        self._sleep = sleep
        self._paths = {p.symbol: GbmPath(p, seed=seed, time_scale=time_scale) for p in params}
        self._schedule_rng = random.Random(f"{seed}:schedule")
        self._next_at: dict[str, float] = {}
        self._last_at: dict[str, float] = {}
        self._symbols: list[str] = []

    def connect(self) -> None:
        start = self._clock()
        for symbol in self._paths:
            self._last_at[symbol] = start
            self._next_at[symbol] = start + self._jitter()

    def subscribe(self, symbols: Sequence[str]) -> None:
        wanted = set(symbols) if symbols else set(self._paths)
        self._symbols = [s for s in self._paths if s in wanted]

    def _jitter(self) -> float:
        return self.interval * self._schedule_rng.uniform(0.5, 1.5)

    def receive(self, timeout: float) -> list[RawTick]:
        if not self._symbols:
            self._sleep(timeout)
            return []
        now = self._clock()
        earliest = min(self._next_at[s] for s in self._symbols)
        if earliest > now:
            self._sleep(min(timeout, earliest - now))
            now = self._clock()
        ticks: list[RawTick] = []
        stamp = self._now()
        for symbol in self._symbols:
            if self._next_at[symbol] > now:
                continue
            last, bid, ask, volume = self._paths[symbol].step(now - self._last_at[symbol])
            self._last_at[symbol] = now
            self._next_at[symbol] = now + self._jitter()
            ticks.append(
                {
                    "symbol": symbol,
                    "last": last,
                    "bid": bid,
                    "ask": ask,
                    "volume": volume,
                    "ts": stamp,
                }
            )
        return ticks

    def close(self) -> None:
        pass
