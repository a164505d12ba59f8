"""The tick path: validation, ordering, quote and bar updates, listeners."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from marketdata import selectors, services
from marketdata.listeners import register_tick_listener
from marketdata.models import Bar, Quote
from oms_site.errors import ValidationFailed

T0 = datetime(2026, 3, 2, 10, 0, 5, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def tick(symbol="ACME", last="100", bid="99.95", ask="100.05", volume=10, ts=T0, **extra):
    return {
        "symbol": symbol,
        "last": last,
        "bid": bid,
        "ask": ask,
        "volume": volume,
        "ts": ts.isoformat() if isinstance(ts, datetime) else ts,
        **extra,
    }


def test_applied_tick_updates_the_latest_quote(acme):
    # given an instrument without quotes
    # when one valid tick arrives
    result = services.tick_ingest(
        symbol="ACME", last="101.5", bid="101.45", ask="101.55", volume=25, ts=T0
    )
    # then it is applied and becomes the latest quote
    assert result.applied and result.reason is None
    quote = selectors.quote_latest(symbol="ACME")
    assert quote is not None
    assert (quote.last, quote.bid, quote.ask) == (
        Decimal("101.5"),
        Decimal("101.45"),
        Decimal("101.55"),
    )
    assert quote.volume == Decimal("25")
    assert quote.ts == T0


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (tick(symbol="NOPE"), "unknown_symbol"),
        (tick(last="0"), "invalid_price"),
        (tick(last="-5"), "invalid_price"),
        (tick(bid="-1"), "invalid_price"),
        (tick(last="abc"), "invalid_price"),
        (tick(bid="100.10", ask="100.05"), "crossed_quote"),
        (tick(ts="yesterday at noon"), "invalid_time"),
        (tick(ts="2026-03-02T10:00:00"), "invalid_time"),  # no offset: ambiguous
        (tick(volume="-3"), "invalid_volume"),
    ],
)
def test_invalid_ticks_are_skipped_and_counted_by_a_feed(acme, raw, reason):
    # given a feed sending one bad tick
    before = services.ingest_stats().get(f"testfeed:{reason}", 0)
    # when it is ingested (feed semantics: not strict)
    (result,) = services.ticks_ingest(ticks=[raw], source="testfeed")
    # then it is dropped with its reason, counted, and nothing is applied
    assert not result.applied
    assert result.reason == reason
    assert services.ingest_stats()[f"testfeed:{reason}"] == before + 1
    assert not Quote.objects.filter(last__isnull=False).exists()
    assert not Bar.objects.exists()


def test_a_bad_tick_in_a_strict_batch_applies_nothing(acme):
    # given a batch whose third tick has bid above ask
    batch = [
        tick(ts=T0),
        tick(ts=T0 + timedelta(seconds=1)),
        tick(bid="101", ask="100.5", ts=T0 + timedelta(seconds=2)),
    ]
    # when the API ingests it strictly
    with pytest.raises(ValidationFailed) as excinfo:
        services.ticks_ingest(ticks=batch, source="api", strict=True)
    # then the error names that tick and no tick of the batch was applied
    assert "2.bid" in excinfo.value.fields
    assert selectors.quote_latest(symbol="ACME") is None
    assert not Bar.objects.exists()


def test_an_out_of_order_tick_is_dropped_and_never_applied(acme):
    # given a quote at T0 + 10s
    services.tick_ingest(symbol="ACME", last="100", ts=T0 + timedelta(seconds=10))
    before = services.ingest_stats().get("feed:stale", 0)
    # when an older tick arrives
    result = services.ticks_ingest(ticks=[tick(last="90", ts=T0)])[0]
    # then it is dropped as stale and counted, and the quote and bar are untouched
    assert not result.applied and result.reason == "stale"
    assert services.ingest_stats()["feed:stale"] == before + 1
    quote = selectors.quote_latest(symbol="ACME")
    assert quote.last == Decimal("100")
    bar = Bar.objects.get()
    assert bar.low == Decimal("100") and bar.volume == Decimal("0")


def test_ticks_of_one_symbol_apply_in_order_within_a_batch(acme, globex):
    # given a batch mixing two symbols, with one ACME tick older than its predecessor
    batch = [
        tick(last="100", ts=T0),
        tick(symbol="GLOBEX", last="50", bid=None, ask=None, ts=T0),
        tick(last="102", ts=T0 + timedelta(seconds=2)),
        tick(last="101", ts=T0 + timedelta(seconds=1)),  # out of order
        tick(symbol="GLOBEX", last="51", bid=None, ask=None, ts=T0 + timedelta(seconds=1)),
        tick(last="103", ts=T0 + timedelta(seconds=2)),  # same time as the latest: fine
    ]
    # when ingested
    results = services.ticks_ingest(ticks=batch)
    # then only the out-of-order tick is dropped and the quotes hold each symbol's newest
    assert [r.applied for r in results] == [True, True, True, False, True, True]
    quotes = selectors.quotes_latest(symbols=["ACME", "GLOBEX"])
    assert quotes["ACME"].last == Decimal("103")
    assert quotes["GLOBEX"].last == Decimal("51")
    bar = Bar.objects.get(instrument=acme)
    assert (bar.open, bar.high, bar.low, bar.close) == (
        Decimal("100"),
        Decimal("103"),
        Decimal("100"),
        Decimal("103"),
    )
    assert bar.volume == Decimal("30")


def test_bars_merge_across_batches_and_roll_each_minute(acme):
    # given ticks in two batches within one minute and one in the next minute
    services.ticks_ingest(ticks=[tick(last="100", volume=5, ts=T0)])
    services.ticks_ingest(
        ticks=[
            tick(last="98", volume=7, ts=T0 + timedelta(seconds=20)),
            tick(last="104", volume=1, ts=T0 + timedelta(seconds=40)),
            tick(last="103", volume=2, ts=T0 + timedelta(seconds=50)),
        ]
    )
    services.ticks_ingest(ticks=[tick(last="105", volume=3, ts=T0 + timedelta(seconds=60))])
    # then the first minute's bar merges all its ticks and the second starts afresh
    bars = list(Bar.objects.filter(instrument=acme).order_by("ts"))
    assert [b.ts for b in bars] == [
        T0.replace(second=0),
        T0.replace(second=0) + timedelta(minutes=1),
    ]
    first, second = bars
    assert (first.open, first.high, first.low, first.close, first.volume) == tuple(
        Decimal(v) for v in ("100", "104", "98", "103", "15")
    )
    assert (second.open, second.close, second.volume) == (
        Decimal("105"),
        Decimal("105"),
        Decimal("3"),
    )


def test_day_volume_and_previous_close_follow_the_exchange_date(acme):
    # given ticks on one day
    services.ticks_ingest(ticks=[tick(last="100", volume=5, ts=T0)])
    services.ticks_ingest(ticks=[tick(last="110", volume=5, ts=T0 + timedelta(hours=1))])
    # when the first tick of the next day arrives
    services.ticks_ingest(ticks=[tick(last="99", volume=2, ts=T0 + timedelta(days=1))])
    # then the day volume restarts and yesterday's last is the previous close
    quote = selectors.quote_latest(symbol="ACME")
    assert quote.volume == Decimal("2")
    assert quote.prev_close == Decimal("110")
    assert quote.change_pct == Decimal("-10.00")


def test_listeners_get_every_applied_tick_in_order_after_the_write(acme, no_listeners):
    # given a registered listener that reads the quote when called
    seen = []

    def listener(applied):
        seen.append((applied.symbol, applied.last, selectors.quote_latest(symbol="ACME").last))

    register_tick_listener("test.recorder", listener)
    # when a batch with one stale tick is ingested
    services.ticks_ingest(
        ticks=[
            tick(last="100", ts=T0),
            tick(last="101", ts=T0 + timedelta(seconds=1)),
            tick(last="99", ts=T0 - timedelta(seconds=1)),
        ]
    )
    # then the listener saw the two applied ticks, in order, with the quote already written
    assert seen == [
        ("ACME", Decimal("100"), Decimal("101")),
        ("ACME", Decimal("101"), Decimal("101")),
    ]


def test_a_failing_listener_does_not_stop_the_others(acme, no_listeners):
    # given a listener that raises and another that records
    seen = []

    def broken(applied):
        raise RuntimeError("boom")

    register_tick_listener("test.broken", broken)
    register_tick_listener("test.recorder", lambda applied: seen.append(applied.last))
    # when a tick is applied
    result = services.tick_ingest(symbol="ACME", last="100", ts=T0)
    # then the tick stays applied and the second listener still ran
    assert result.applied
    assert seen == [Decimal("100")]


def test_a_tick_far_in_the_future_is_rejected(acme):
    # given a tick stamped an hour ahead (a broken clock would freeze the symbol)
    future = datetime.now(UTC) + timedelta(hours=1)
    # when ingested
    (result,) = services.ticks_ingest(ticks=[tick(ts=future)])
    # then it is rejected as an invalid time
    assert result.reason == "invalid_time"
