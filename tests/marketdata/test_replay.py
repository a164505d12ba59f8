"""Replay: a CSV of bars or ticks rebuilds exactly the bars it implies."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from marketdata import selectors, services
from marketdata.feeds.base import TickSink, run_feed
from marketdata.feeds.replay import ReplayAdapter, read_events

pytestmark = pytest.mark.django_db

BARS_CSV = """ts,symbol,open,high,low,close,volume
2026-03-02T09:15:00+05:30,ACME,100.00,101.50,99.50,101.00,1200
2026-03-02T09:16:00+05:30,ACME,101.00,101.20,100.10,100.20,800
2026-03-02T09:17:00+05:30,ACME,100.20,100.20,98.00,98.40,3000
2026-03-02T09:18:00+05:30,ACME,98.40,99.90,98.40,99.90,0
2026-03-02T09:19:00+05:30,ACME,99.90,102.00,99.90,101.75,450
"""

TICKS_CSV = """ts,symbol,last,bid,ask,volume
2026-03-02T10:00:01Z,ACME,100.05,100.00,100.10,10
2026-03-02T10:00:30Z,ACME,100.40,100.35,100.45,5
2026-03-02T10:00:59Z,ACME,99.95,99.90,100.00,7
2026-03-02T10:00:20Z,ACME,120.00,119.95,120.05,999
2026-03-02T10:01:00Z,ACME,100.10,,,3
not-a-time,ACME,100.10,,,3
2026-03-02T10:01:10Z,ACME,-1,,,3
"""


def replay(path, **kwargs):
    adapter = ReplayAdapter(path, speed=0, **kwargs)
    sink = TickSink(lambda batch: services.ticks_ingest(ticks=batch, source="replay"))
    counts = run_feed(adapter, symbols=[], sink=sink, stop=threading.Event())
    return adapter, counts


def bars_of(symbol, interval="1m"):
    instrument = selectors.instrument_get(symbol=symbol)
    return [
        (b.ts, b.open, b.high, b.low, b.close, b.volume)
        for b in selectors.bar_list(
            instrument=instrument,
            interval=interval,
            start=datetime(2026, 3, 1, tzinfo=UTC),
            end=datetime(2026, 3, 3, tzinfo=UTC),
        )
    ]


def D(*values):
    return tuple(Decimal(v) for v in values)


def test_a_replayed_bar_file_produces_exactly_its_bars(acme, tmp_path, no_listeners):
    # given a CSV of five 1-minute bars (IST times)
    path = tmp_path / "bars.csv"
    path.write_text(BARS_CSV)
    # when replayed at max speed
    replay(path)
    # then the stored 1m bars are exactly the file's rows
    got = bars_of("ACME")
    start = datetime(2026, 3, 2, 3, 45, tzinfo=UTC)
    expected_rows = [
        ("100.00", "101.50", "99.50", "101.00", "1200"),
        ("101.00", "101.20", "100.10", "100.20", "800"),
        ("100.20", "100.20", "98.00", "98.40", "3000"),
        ("98.40", "99.90", "98.40", "99.90", "0"),
        ("99.90", "102.00", "99.90", "101.75", "450"),
    ]
    assert [row[0] for row in got] == [start.replace(minute=45 + i) for i in range(5)]
    assert [row[1:] for row in got] == [D(*r) for r in expected_rows]
    # and a derived 5m bar aggregates them (09:15–09:20 IST = one 5m period)
    (five,) = bars_of("ACME", "5m")
    assert five[1:] == D("100.00", "102.00", "98.00", "101.75", "5450")


def test_a_replayed_tick_file_rolls_bars_and_drops_bad_and_stale_rows(acme, tmp_path):
    # given a tick CSV with one out-of-order row, one unreadable row and one bad price
    path = tmp_path / "ticks.csv"
    path.write_text(TICKS_CSV)
    # when replayed
    adapter, counts = replay(path)
    # then the stale tick and the bad price were dropped and counted, the bad time skipped
    assert counts["applied"] == 4
    assert counts["stale"] == 1
    assert counts["invalid_price"] == 1
    assert [e.line for e in adapter.errors] == [7]
    # and the bars are those of the applied ticks only
    assert bars_of("ACME") == [
        (datetime(2026, 3, 2, 10, 0, tzinfo=UTC), *D("100.05", "100.40", "99.95", "99.95", "22")),
        (datetime(2026, 3, 2, 10, 1, tzinfo=UTC), *D("100.10", "100.10", "100.10", "100.10", "3")),
    ]


def test_replay_paces_by_the_file_clock_divided_by_speed(tmp_path):
    # given three ticks 10 s apart, replayed at 10×, with a fake clock
    path = tmp_path / "ticks.csv"
    path.write_text(
        "ts,symbol,last\n"
        "2026-03-02T10:00:00Z,ACME,1\n2026-03-02T10:00:10Z,ACME,2\n2026-03-02T10:00:20Z,ACME,3\n"
    )
    clock = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(round(seconds, 6))
        clock[0] += seconds

    adapter = ReplayAdapter(path, speed=10, clock=lambda: clock[0], sleep=sleep)
    adapter.connect()
    got = []
    while len(got) < 3:
        got.extend(t["last"] for t in adapter.receive(timeout=5))
    # then it waited 1 s of wall time between ticks
    assert got == ["1", "2", "3"]
    assert sum(slept) == pytest.approx(2.0)


def test_a_bar_whose_close_is_outside_its_range_is_skipped(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("ts,symbol,open,high,low,close\n2026-03-02T10:00:00Z,ACME,10,11,9,12\n")
    errors = []
    assert list(read_events(path, errors=errors)) == []
    assert errors and errors[0].line == 2


def test_run_feed_command_replays_a_file(acme, tmp_path):
    path = tmp_path / "bars.csv"
    path.write_text(BARS_CSV)
    call_command("run_feed", "--source", "replay", "--file", str(path), "--speed", "max")
    assert len(bars_of("ACME")) == 5
