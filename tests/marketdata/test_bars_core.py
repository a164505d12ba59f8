"""Pure OHLCV helpers: period alignment and aggregation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from marketdata.bars import OHLCV, MinuteBarRoller, aggregate, period_start

IST = ZoneInfo("Asia/Kolkata")


def bar(ts, o, h, low, c, v):
    return OHLCV(ts, *(Decimal(x) for x in (o, h, low, c, v)))


def test_periods_align_to_the_epoch_and_days_to_the_exchange_midnight():
    ts = datetime(2026, 3, 2, 10, 7, 31, tzinfo=UTC)
    assert period_start(ts, "5m") == datetime(2026, 3, 2, 10, 5, tzinfo=UTC)
    assert period_start(ts, "1h") == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    # 20:00 UTC is already the next day in India (01:30 IST)
    late = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)
    assert period_start(late, "1d", tz=IST) == datetime(2026, 3, 3, tzinfo=IST)
    assert period_start(late, "1d") == datetime(2026, 3, 2, tzinfo=UTC)


def test_aggregate_keeps_first_open_last_close_extremes_and_sums_volume():
    t0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    minutes = [
        bar(t0, "10", "12", "9", "11", "5"),
        bar(t0 + timedelta(minutes=1), "11", "15", "10", "14", "2"),
        bar(t0 + timedelta(minutes=4), "14", "14", "8", "9", "1"),
        bar(t0 + timedelta(minutes=5), "9", "9.5", "9", "9.25", "7"),
    ]
    got = [b.as_dict() for b in aggregate(minutes, "5m")]
    assert got == [
        bar(t0, "10", "15", "8", "9", "8").as_dict(),
        bar(t0 + timedelta(minutes=5), "9", "9.5", "9", "9.25", "7").as_dict(),
    ]


def test_the_roller_builds_one_bar_per_key_and_minute():
    roller = MinuteBarRoller()
    t0 = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)
    for seconds, price in ((0, "10"), (30, "12"), (59, "11"), (60, "13")):
        roller.add("A", t0 + timedelta(seconds=seconds), Decimal(price), Decimal(1))
    roller.add("B", t0, Decimal("5"), Decimal(2))
    first = roller.bars[("A", datetime(2026, 3, 2, 10, 0, tzinfo=UTC))]
    assert (first.open, first.high, first.low, first.close, first.volume) == tuple(
        Decimal(x) for x in ("10", "12", "10", "11", "3")
    )
    assert len(roller.bars) == 3
