"""The pure slicing core (orders/algos.py): sizes on the lot grid that add up exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orders.automation import algos


@settings(max_examples=200, deadline=None)
@given(
    lots=st.integers(min_value=1, max_value=5000),
    n=st.integers(min_value=1, max_value=60),
    lot=st.sampled_from([Decimal("1"), Decimal("50"), Decimal("0.5")]),
    pct=st.sampled_from([Decimal("0"), Decimal("20"), Decimal("50")]),
    seed=st.text(min_size=1, max_size=8),
)
def test_twap_slices_sum_exactly_on_the_lot_grid_within_bounds(lots, n, lot, pct, seed):
    n = min(n, lots)
    qty = lot * lots
    sizes = algos.twap_slices(qty=qty, lot=lot, n=n, randomize_pct=pct, seed=seed)
    assert len(sizes) == n
    assert sum(sizes) == qty
    assert all(size > 0 and size % lot == 0 for size in sizes)
    # each slice within the randomisation band of the even share, give or take a lot of
    # rounding and the renormalisation of the random weights
    even = Decimal(lots) / n
    span = float(pct) / 100
    for size in sizes:
        share = float(size / lot)
        low = float(even) * (1 - span) / (1 + span) - 1
        high = float(even) * (1 + span) / (1 - span) + 1
        assert low - 1e-9 <= share <= high + 1e-9


def test_twap_is_deterministic_per_seed():
    one = algos.twap_slices(
        qty=Decimal("1000"), lot=Decimal("1"), n=10, randomize_pct=Decimal("20"), seed="a"
    )
    same = algos.twap_slices(
        qty=Decimal("1000"), lot=Decimal("1"), n=10, randomize_pct=Decimal("20"), seed="a"
    )
    other = algos.twap_slices(
        qty=Decimal("1000"), lot=Decimal("1"), n=10, randomize_pct=Decimal("20"), seed="b"
    )
    assert one == same and one != other


def test_zero_randomisation_is_even():
    sizes = algos.twap_slices(
        qty=Decimal("90"), lot=Decimal("1"), n=3, randomize_pct=Decimal("0"), seed="x"
    )
    assert sizes == [Decimal("30")] * 3


def test_vwap_weights_cover_the_minutes_of_each_slice():
    profile = {600: Decimal("60"), 601: Decimal("120")}
    # 30 s slices from 10:00: two in minute 600, two in minute 601
    weights = algos.vwap_weights(profile, start_minute=600, interval_secs=30, n=4)
    assert weights == [Decimal("30"), Decimal("30"), Decimal("60"), Decimal("60")]
    sizes = algos.vwap_slices(qty=Decimal("18"), lot=Decimal("1"), weights=weights)
    assert sizes == [Decimal("3"), Decimal("3"), Decimal("6"), Decimal("6")]


def test_vwap_wraps_past_midnight():
    weights = algos.vwap_weights({0: Decimal("5")}, start_minute=1439, interval_secs=60, n=2)
    assert weights == [Decimal("0"), Decimal("5")]


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(min_value=1, max_value=10000),
    weights=st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=50),
)
def test_allocate_is_exact_and_gives_every_slice_a_lot(total, weights):
    weights = weights[:total]
    out = algos.allocate(total, [Decimal(w) for w in weights])
    assert sum(out) == total and all(k >= 1 for k in out)
    # more weight never gets fewer lots (ties aside, by at most one lot of rounding)
    for i in range(len(weights)):
        for j in range(len(weights)):
            if weights[i] > weights[j]:
                assert out[i] >= out[j] - 1


def test_slice_count_never_exceeds_the_lots():
    params = algos.parse_algo({"type": "twap", "horizon_secs": 600, "interval_secs": 10})
    assert algos.slice_count(params, Decimal("5"), Decimal("1")) == 5
    assert algos.slice_count(params, Decimal("500"), Decimal("1")) == 60


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"type": "twap", "horizon_secs": "x", "interval_secs": 5}, "horizon_secs"),
        ({"type": "twap", "horizon_secs": 1.5, "interval_secs": 1}, "horizon_secs"),
        ({"type": "twap", "horizon_secs": 100000, "interval_secs": 1}, "interval_secs"),
        (
            {"type": "twap", "horizon_secs": 10, "interval_secs": 5, "randomize_pct": 100},
            "randomize_pct",
        ),
        ({"type": "iceberg", "display_qty": -1}, "display_qty"),
        ({"type": "iceberg", "display_qty": 5, "horizon_secs": 5}, "horizon_secs"),
    ],
)
def test_parse_algo_names_the_bad_key(raw, field):
    with pytest.raises(algos.AlgoError) as caught:
        algos.parse_algo(raw)
    assert caught.value.field == field


def test_iceberg_next_child_is_display_or_the_rest():
    assert algos.iceberg_next_qty(
        qty=Decimal("25"), display_qty=Decimal("10"), allotted=Decimal("20")
    ) == Decimal("5")
    assert algos.iceberg_next_qty(
        qty=Decimal("25"), display_qty=Decimal("10"), allotted=Decimal("25")
    ) == Decimal("0")
