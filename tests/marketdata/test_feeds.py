"""Feeds: the seeded GBM simulator, the reconnecting runner, the batching sink."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from marketdata import selectors
from marketdata.feeds.base import Backoff, FeedDisconnected, TickSink, run_feed
from marketdata.feeds.simulator import GbmPath, SimParams, SimulatorAdapter, round_to_tick
from marketdata.ticks import IngestResult

ACME = SimParams(symbol="ACME", start_price=Decimal("1250"), tick_size=Decimal("0.05"))


def test_the_same_seed_gives_the_same_path_and_another_seed_another():
    a = [GbmPath(ACME, seed=7).step(0.5) for _ in range(1)]
    path1, path2, path3 = GbmPath(ACME, seed=7), GbmPath(ACME, seed=7), GbmPath(ACME, seed=8)
    first = [path1.step(0.5)[0] for _ in range(200)]
    assert first == [path2.step(0.5)[0] for _ in range(200)]
    assert first != [path3.step(0.5)[0] for _ in range(200)]
    assert a[0][0] == first[0]


def test_simulated_prices_respect_tick_size_and_keep_bid_below_ask():
    path = GbmPath(
        SimParams(
            symbol="X",
            start_price=Decimal("0.30"),
            tick_size=Decimal("0.05"),
            volatility=3.0,
            spread_ticks=3,
        ),
        seed=1,
        time_scale=5000,
    )
    for _ in range(2000):
        last, bid, ask, volume = path.step(1.0)
        assert last > 0 and last % Decimal("0.05") == 0
        assert bid % Decimal("0.05") == 0 and ask % Decimal("0.05") == 0
        assert 0 < bid <= last <= ask
        assert ask - bid == Decimal("0.15")
        assert volume > 0 and volume % 1 == 0


def test_volatility_and_drift_shape_the_path():
    # given a strongly drifting, volatile instrument simulated for a trading year
    steps = 2000
    seconds = 252 * 6.25 * 3600 / steps
    up = GbmPath(
        SimParams(symbol="U", start_price=Decimal(100), drift=1.0, volatility=0.05), seed=3
    )
    calm = GbmPath(SimParams(symbol="C", start_price=Decimal(100), volatility=0.01), seed=3)
    wild = GbmPath(SimParams(symbol="W", start_price=Decimal(100), volatility=0.8), seed=3)
    ups = [up.step(seconds)[0] for _ in range(steps)]
    calms = [calm.step(seconds)[0] for _ in range(steps)]
    wilds = [wild.step(seconds)[0] for _ in range(steps)]
    # then drift e^1 ≈ 2.7× lifts the price, and the volatile path ranges far wider
    assert ups[-1] > Decimal(200)
    assert max(wilds) - min(wilds) > 10 * (max(calms) - min(calms))


def test_round_to_tick_never_reaches_zero():
    assert round_to_tick(Decimal("0.001"), Decimal("0.05")) == Decimal("0.05")
    assert round_to_tick(Decimal("10.024"), Decimal("0.05")) == Decimal("10.00")
    assert round_to_tick(Decimal("10.026"), Decimal("0.05")) == Decimal("10.05")


def test_simulator_adapter_emits_ticks_only_for_subscribed_symbols():
    clock = [0.0]
    adapter = SimulatorAdapter(
        [ACME, SimParams(symbol="GLOBEX", start_price=Decimal("800"))],
        interval=1.0,
        clock=lambda: clock[0],
        now=lambda: datetime(2026, 3, 2, tzinfo=UTC),
        sleep=lambda s: clock.__setitem__(0, clock[0] + s),
    )
    adapter.connect()
    adapter.subscribe(["GLOBEX"])
    ticks = []
    while len(ticks) < 5:
        ticks.extend(adapter.receive(timeout=1.0))
    assert {t["symbol"] for t in ticks} == {"GLOBEX"}


class FlakyAdapter:
    """Fails to connect once, then drops the connection after its first batch."""

    name = "flaky"

    def __init__(self):
        self.connects = 0
        self.subscribed = []
        self.batches = [
            [{"symbol": "ACME", "last": "1"}],
            "drop",
            [{"symbol": "ACME", "last": "2"}],
        ]

    def connect(self):
        self.connects += 1
        if self.connects == 1:
            raise ConnectionRefusedError("down")

    def subscribe(self, symbols):
        self.subscribed.append(list(symbols))

    def receive(self, timeout):
        if not self.batches:
            from marketdata.feeds.base import FeedExhausted

            raise FeedExhausted
        item = self.batches.pop(0)
        if item == "drop":
            raise FeedDisconnected("reset by peer")
        return item

    def close(self):
        pass


def test_the_runner_reconnects_with_backoff_and_resubscribes():
    # given an adapter that refuses the first connect and drops once
    adapter = FlakyAdapter()
    got, waits = [], []
    sink = TickSink(
        lambda batch: [got.append(t["last"]) or IngestResult("ACME", True) for t in batch]
    )
    # when run
    counts = run_feed(
        adapter,
        symbols=["ACME"],
        sink=sink,
        stop=threading.Event(),
        sleep=waits.append,
        backoff=Backoff(initial=1, maximum=8),
    )
    # then it retried twice, re-subscribed each time and lost nothing; the backoff restarted
    # from its initial delay because a batch arrived between the two failures
    assert adapter.connects == 3
    assert adapter.subscribed == [["ACME"], ["ACME"]]
    assert got == ["1", "2"]
    assert counts["reconnects"] == 2 and counts["applied"] == 2
    assert len(waits) == 2 and all(0.5 <= w <= 1 for w in waits)


def test_backoff_grows_to_its_ceiling_and_resets():
    backoff = Backoff(initial=1, maximum=4)
    delays = [backoff.next_delay() for _ in range(5)]
    assert all(
        lo <= d <= hi
        for d, (lo, hi) in zip(delays, [(0.5, 1), (1, 2), (2, 4), (2, 4), (2, 4)], strict=True)
    )
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_the_sink_batches_and_counts():
    seen = []

    def ingest(batch):
        seen.append(len(batch))
        return [IngestResult("A", t["ok"], None if t["ok"] else "stale") for t in batch]

    sink = TickSink(ingest, batch_size=3)
    sink.add([{"ok": True}] * 4)
    sink.add([{"ok": False}])
    sink.flush()
    assert seen == [3, 2]
    assert sink.counts == Counter({"received": 5, "applied": 4, "stale": 1})


@pytest.mark.django_db
def test_run_feed_simulator_moves_the_demo_quotes(no_listeners):
    # given the demo instruments
    from marketdata.services import seed_demo_instruments

    seed_demo_instruments()
    # when the simulator runs for a few ticks
    call_command("run_feed", "--source", "simulator", "--interval", "0.01", "--max-ticks", "40")
    # then every simulated instrument has a quote on its tick grid, and NSE ones none
    quotes = selectors.quotes_latest(
        symbols=["ACME", "GLOBEX", "INITECH", "UMBRELLA", "STARK", "TCS"]
    )
    assert set(quotes) == {"ACME", "GLOBEX", "INITECH", "UMBRELLA", "STARK"}
    assert all(q.last % Decimal("0.05") == 0 for q in quotes.values())


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (None, ["run_feed", "--source", "simulator"]),
        ("simulator", ["run_feed", "--source", "simulator"]),
        ("replay:/data/ticks.csv", ["run_feed", "--source", "replay", "--file", "/data/ticks.csv"]),
        ("none", None),
    ],
)
def test_oms_feed_chooses_what_the_run_command_starts(choice, expected):
    from marketdata.apps import feed_processes
    from oms_site.run_registry import KIND_FEED, registered_processes

    env = {} if choice is None else {"OMS_FEED": choice}
    specs = list(feed_processes(env))
    if expected is None:
        assert specs == []
    else:
        (spec,) = specs
        assert spec.kind == KIND_FEED
        assert list(spec.argv[2 : 2 + len(expected)]) == expected
    # and it is what the registry hands the run command
    assert [s for s in registered_processes(env) if s.kind == KIND_FEED] == specs


def test_an_unknown_oms_feed_is_refused():
    from marketdata.apps import feed_processes

    with pytest.raises(ValueError, match="OMS_FEED"):
        feed_processes({"OMS_FEED": "bloomberg"})
