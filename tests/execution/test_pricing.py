"""Fill price and fee arithmetic: exact Decimal, tick rounding against the trader, paisa fees."""

from __future__ import annotations

from decimal import Decimal

from execution.pricing import fill_fee, round_to_tick, slipped_price


def test_buy_rounds_up_and_sell_rounds_down_to_the_tick():
    assert round_to_tick(Decimal("100.07"), Decimal("0.05"), side="buy") == Decimal("100.10")
    assert round_to_tick(Decimal("100.07"), Decimal("0.05"), side="sell") == Decimal("100.05")
    # already on the grid: unchanged
    assert round_to_tick(Decimal("100.05"), Decimal("0.05"), side="buy") == Decimal("100.05")


def test_slippage_moves_the_price_against_the_trader():
    assert slipped_price(Decimal("200"), side="buy", slippage_bps=Decimal("10")) == Decimal("200.2")
    assert slipped_price(Decimal("200"), side="sell", slippage_bps=Decimal("10")) == Decimal(
        "199.8"
    )


def test_fee_is_exact_and_rounded_half_up_to_paisa():
    # 1 × 50 × 1 bp = 0.005 exactly: half-up gives 0.01 (banker's rounding would give 0.00)
    assert fill_fee(qty=Decimal("1"), price=Decimal("50"), bps=Decimal("1")) == Decimal("0.01")
    # 0.0049999 stays 0.00; a fixed part is added before rounding
    assert fill_fee(qty=Decimal("1"), price=Decimal("49.999"), bps=Decimal("1")) == Decimal("0.00")
    assert fill_fee(
        qty=Decimal("7"), price=Decimal("12.35"), bps=Decimal("7"), fixed=Decimal("20")
    ) == Decimal("20.06")  # 86.45 × 7 / 10 000 = 0.060515 → 20.060515 → 20.06
