"""strategies/sizing.py: the pure sizing rules and order planning (no database)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from strategies.sizing import Sized, SizingRuleError, parse_rule, plan, size


def _size(raw, *, qty=None, price=None, stop=None, equity="0", lot="1"):
    return size(
        parse_rule(raw),
        signal_qty=None if qty is None else D(qty),
        price=None if price is None else D(price),
        stop=None if stop is None else D(stop),
        equity=D(equity),
        lot_size=D(lot),
    )


def test_fixed_qty_is_rounded_down_to_the_lot():
    assert _size({"type": "fixed_qty", "qty": "120"}, lot="50") == Sized(D("100"))


def test_fixed_value_divides_by_the_price_and_rounds_down():
    # 10,000 / 101 = 99.0099… → 99 shares
    assert _size({"type": "fixed_value", "value": "10000"}, price="101").qty == D("99")


def test_equity_pct_takes_that_share_of_equity():
    # 5 % of 200,000 = 10,000 at 100 = 100, lots of 25 → 100
    sized = _size({"type": "equity_pct", "pct": "5"}, price="100", equity="200000", lot="25")
    assert sized.qty == D("100")


def test_risk_pct_risks_that_share_of_equity_to_the_stop():
    # 1 % of 100,000 = 1,000 at risk; stop distance 100 − 96 = 4 → 250 shares
    sized = _size({"type": "risk_pct", "pct": "1"}, price="100", stop="96", equity="100000")
    assert sized.qty == D("250")


def test_risk_pct_without_a_stop_says_why():
    sized = _size({"type": "risk_pct", "pct": "1"}, price="100", equity="100000")
    assert sized.qty == 0 and "stop" in sized.reason


def test_multiplier_scales_the_signal_qty_and_clamps_to_min_max():
    rule = {"type": "multiplier", "factor": "2.5", "max_qty": "20"}
    assert _size(rule, qty="4").qty == D("10")
    assert _size(rule, qty="40").qty == D("20")
    assert _size({"type": "multiplier", "factor": "1", "min_qty": "5"}, qty="1").qty == D("5")


def test_a_size_below_one_lot_is_zero_with_a_reason():
    sized = _size({"type": "fixed_value", "value": "1000"}, price="100", lot="50")
    assert sized.qty == 0
    assert sized.reason == "Sizing rounds to zero lots (lot size 50)."


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"type": "kelly"}, "sizing.type"),
        ({"type": "fixed_qty"}, "sizing.qty"),
        ({"type": "fixed_qty", "qty": "-1"}, "sizing.qty"),
        ({"type": "equity_pct", "pct": "101"}, "sizing.pct"),
        ({"type": "fixed_qty", "qty": "1", "min_qty": "5", "max_qty": "2"}, "sizing.min_qty"),
        ({"type": "fixed_qty", "qty": "1", "factor": "2"}, "sizing.factor"),
        ("ten", "sizing"),
    ],
)
def test_a_bad_rule_names_its_field(raw, field):
    with pytest.raises(SizingRuleError) as caught:
        parse_rule(raw)
    assert caught.value.field == field


def _plan(action, *, sized="10", target=None, net="0", direction="both", max_position=None):
    return plan(
        action=action,
        sized=Sized(D(sized)),
        target=None if target is None else D(target),
        net=D(net),
        direction=direction,
        max_position=None if max_position is None else D(max_position),
        lot_size=D("1"),
    )


def _legs(result):
    return [(leg.side, leg.qty) for leg in result.legs]


def test_a_position_target_sends_only_the_difference():
    assert _legs(_plan(None, target="100", net="30")) == [("buy", D("70"))]
    assert _legs(_plan(None, target="-20", net="30")) == [("sell", D("50"))]
    assert _plan(None, target="30", net="30").reason == "Already at the target position."


def test_exit_flattens_and_reverse_flattens_then_opens_the_other_side():
    assert _legs(_plan("exit", net="-40")) == [("buy", D("40"))]
    assert _legs(_plan("reverse", sized="10", net="40")) == [("sell", D("40")), ("sell", D("10"))]
    assert _plan("reverse", net="0").reason == "No position to reverse."


def test_long_only_caps_a_sell_at_flat_and_refuses_a_short():
    assert _legs(_plan("sell", sized="50", net="20", direction="long_only")) == [("sell", D("20"))]
    refused = _plan("sell", sized="50", net="0", direction="long_only")
    assert refused.legs == () and refused.reason == "The strategy is long only."


def test_max_position_caps_a_buy_and_never_turns_it_into_a_sell():
    assert _legs(_plan("buy", sized="50", net="80", max_position="100")) == [("buy", D("20"))]
    over = _plan("buy", sized="50", net="120", max_position="100")
    assert over.legs == () and over.reason == "Max position 100 per symbol."


def test_only_the_adding_leg_is_opening():
    (leg,) = _plan("buy", sized="10", net="5").legs
    assert leg.opening
    flatten, open_short = _plan("reverse", sized="10", net="5").legs
    assert not flatten.opening and open_short.opening
