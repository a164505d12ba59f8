"""Fixtures for execution tests: instruments, quotes, a collecting report sink, clean shards."""

from __future__ import annotations

from decimal import Decimal

import pytest

from execution import registry
from execution.exchange.depth import reset_book_publisher
from execution.exchange.shard import shard_states_reset
from execution.services import broker_callers_reset
from marketdata import listeners
from marketdata.push import reset_quote_publisher
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory


@pytest.fixture(autouse=True)
def _fresh_execution_state():
    # Per-process state (shard books, token buckets, quote and book throttles) must not leak
    # between tests.
    shard_states_reset()
    broker_callers_reset()
    reset_quote_publisher()
    reset_book_publisher()
    yield
    shard_states_reset()
    broker_callers_reset()
    reset_quote_publisher()
    reset_book_publisher()


class ReportCollector:
    def __init__(self) -> None:
        self.reports = []
        self.bursts: list[int] = []  # how many reports each call handed over

    def __call__(self, reports) -> None:
        self.reports.extend(reports)
        self.bursts.append(len(reports))

    def of(self, order_id: str, report_type: str | None = None) -> list:
        return [
            r
            for r in self.reports
            if r.order_id == order_id and (report_type is None or r.type == report_type)
        ]

    def types(self, order_id: str) -> list[str]:
        return [r.type for r in self.of(order_id)]


@pytest.fixture
def sink():
    """The only report sink while the test runs (orders' sink, if registered, is set aside)."""
    collector = ReportCollector()
    with registry.REPORT_SINKS.overridden({collector: collector}):
        yield collector


@pytest.fixture
def only_paper_listener():
    """Ticks reach only the paper broker's listener (other apps' listeners set aside)."""
    from execution.adapters.paper import paper_on_tick

    with listeners.TICK_LISTENERS.overridden({"execution.paper": paper_on_tick}):
        yield


@pytest.fixture
def sim_exchange(db):
    return ExchangeFactory()


@pytest.fixture
def acme(sim_exchange):
    return InstrumentFactory(symbol="ACME", exchange=sim_exchange, tick_size=Decimal("0.05"))


@pytest.fixture
def tick():
    """Apply a tick through the one tick path: tick(symbol, last=, bid=, ask=)."""
    from marketdata.services import tick_ingest

    def _tick(symbol: str, *, last: str, bid: str | None = None, ask: str | None = None):
        result = tick_ingest(symbol=symbol, last=last, bid=bid, ask=ask, volume=0, source="test")
        assert result.applied, result
        return result

    return _tick


class BookPushes:
    """The book publisher of a Redis-backed process (0.1 s throttle), with a hand-driven clock
    and timer: `sent` holds (group, depth) as delivered, `advance(s)` moves the clock and runs
    the trailing flushes that are due by then."""

    def __init__(self, interval: float = 0.1) -> None:
        from execution.exchange.depth import book_route
        from marketdata.push import ThrottledPublisher

        self.now = 1000.0
        self.sent: list[tuple[str, dict]] = []
        self.timers: list[tuple[float, object]] = []
        self.publisher = ThrottledPublisher(
            send=lambda group, message: self.sent.append((group, message["data"])),
            min_interval=interval,
            schedule=lambda delay, fn: self.timers.append((self.now + delay, fn)),
            clock=lambda: self.now,
            route=book_route,
        )

    def advance(self, seconds: float) -> None:
        self.now += seconds
        while self.timers and min(at for at, _ in self.timers) <= self.now + 1e-9:
            self.timers.sort(key=lambda timer: timer[0])
            _, flush = self.timers.pop(0)
            flush()

    def depths(self, symbol: str = "ACME") -> list[dict]:
        return [data for _, data in self.sent if data["symbol"] == symbol]


@pytest.fixture
def book_pushes(monkeypatch):
    """Depth pushes go through a throttled publisher driven by hand (see BookPushes)."""
    from execution.exchange import depth

    pushes = BookPushes()
    monkeypatch.setattr(depth._book_pushes, "get", lambda: pushes.publisher)
    return pushes
