"""The pure checks of orders/core/validation.py and orders/core/risk.py: input validation
and risk_evaluate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from oms_site.errors import ValidationFailed
from orders.core.risk import (
    InstrumentRules,
    Limits,
    OrderDraft,
    RiskContext,
    rate_window_count,
    risk_evaluate,
    validate_order,
)

NOW = datetime(2025, 1, 6, 10, 0, tzinfo=UTC)
RULES = InstrumentRules(symbol="ACME", tick_size=Decimal("0.05"), lot_size=Decimal("5"))


def draft(**kw) -> OrderDraft:
    values = {"side": "buy", "type": "limit", "qty": Decimal("10"), "limit_price": Decimal("100")}
    values.update(kw)
    return OrderDraft(**values)


def fields_of(d: OrderDraft) -> dict:
    with pytest.raises(ValidationFailed) as info:
        validate_order(d, RULES, now=NOW)
    return info.value.fields


def test_a_good_limit_order_passes():
    assert validate_order(draft(), RULES, now=NOW) is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"qty": Decimal("0")}, "qty"),
        ({"qty": Decimal("-5")}, "qty"),
        ({"qty": Decimal("7")}, "qty"),  # off the lot of 5
        ({"limit_price": Decimal("100.03")}, "limit_price"),  # off the 0.05 tick
        ({"limit_price": Decimal("0")}, "limit_price"),
        ({"limit_price": None}, "limit_price"),  # a limit needs its price
        ({"type": "stop", "limit_price": None}, "stop_price"),
        (
            {"type": "stop_limit", "stop_price": Decimal("101")} | {"limit_price": None},
            "limit_price",
        ),
        ({"type": "market"}, "limit_price"),  # a market order has no limit
        ({"type": "trailing_stop", "limit_price": None}, "trail_price"),
        (
            {
                "type": "trailing_stop",
                "limit_price": None,
                "trail_price": Decimal("1"),
                "trail_percent": Decimal("1"),
            },
            "trail_price",
        ),
        (
            {"type": "trailing_stop", "limit_price": None, "trail_percent": Decimal("100")},
            "trail_percent",
        ),
        (
            {
                "type": "stop",
                "limit_price": None,
                "stop_price": Decimal("99"),
                "time_in_force": "ioc",
            },
            "time_in_force",
        ),
        ({"time_in_force": "gtd"}, "expire_at"),
        ({"time_in_force": "gtd", "expire_at": NOW - timedelta(seconds=1)}, "expire_at"),
        ({"expire_at": NOW + timedelta(days=1)}, "expire_at"),  # only with gtd
        ({"display_qty": Decimal("15")}, "display_qty"),
        ({"order_class": "bracket"}, "take_profit"),  # a bracket needs both exit legs
        ({"order_class": "oco", "take_profit": {"limit_price": Decimal("110")}}, "stop_loss"),
        (
            {
                "order_class": "bracket",
                "take_profit": {"limit_price": Decimal("110.01")},  # off the 0.05 grid
                "stop_loss": {"stop_price": Decimal("95")},
            },
            "take_profit.limit_price",
        ),
        ({"take_profit": {"limit_price": "110"}}, "take_profit"),
    ],
)
def test_bad_input_names_the_field(overrides, field):
    assert field in fields_of(draft(**overrides))


def ctx(**kw) -> RiskContext:
    values = {
        "limits": Limits(),
        "last": Decimal("100"),
        "bid": Decimal("99.95"),
        "ask": Decimal("100.05"),
        "buying_power": Decimal("1000000"),
    }
    values.update(kw)
    return RiskContext(**values)


def test_market_buy_is_valued_at_the_ask():
    decision = risk_evaluate(draft(type="market", limit_price=None), "ACME", ctx())
    assert decision.ok
    assert decision.est_price == Decimal("100.05")
    assert decision.est_value == Decimal("1000.50")


@pytest.mark.parametrize(
    ("d", "c", "code"),
    [
        (draft(), ctx(global_kill_switch=True), "kill_switch"),
        (draft(), ctx(limits=Limits(kill_switch=True)), "kill_switch"),
        (draft(), ctx(account_active=False, account_status="suspended"), "account_inactive"),
        (draft(), ctx(limits=Limits(allowed_symbols=["FOO"])), "symbol_not_allowed"),
        (draft(), ctx(market_open=False), "market_closed"),
        (draft(), ctx(limits=Limits(max_order_qty=Decimal("5"))), "max_order_qty"),
        (draft(), ctx(limits=Limits(max_order_value=Decimal("999"))), "max_order_value"),
        (
            draft(limit_price=Decimal("120")),
            ctx(limits=Limits(price_band_pct=Decimal("10"))),
            "price_band",
        ),
        (
            draft(limit_price=Decimal("120")),
            ctx(instrument_price_band_pct=Decimal("5")),
            "price_band",
        ),
        (draft(), ctx(limits=Limits(max_orders_per_minute=3), orders_this_minute=4), "rate_limit"),
        (draft(), ctx(limits=Limits(max_orders_per_day=2), orders_today=2), "max_orders_per_day"),
        (draft(), ctx(limits=Limits(max_open_orders=1), open_orders=1), "max_open_orders"),
        (
            draft(side="sell"),
            ctx(position_qty=Decimal("5"), open_sell_qty=Decimal("0")),
            "short_selling",
        ),
        (draft(), ctx(buying_power=Decimal("999.95")), "buying_power"),
        (draft(type="market", limit_price=None), ctx(last=None, bid=None, ask=None), "no_price"),
        (
            draft(),
            ctx(limits=Limits(max_daily_loss=Decimal("500")), realized_today=Decimal("-500")),
            "max_daily_loss",
        ),
    ],
)
def test_each_risk_check_rejects_with_its_reason(d, c, code):
    decision = risk_evaluate(d, "ACME", c)
    assert not decision.ok
    assert decision.code == code
    assert decision.message
    assert decision.checks[-1] == {"check": code, "result": "fail", "message": decision.message}


def test_closed_market_queues_when_after_market_orders_are_allowed():
    decision = risk_evaluate(draft(), "ACME", ctx(market_open=False, allow_after_market=True))
    assert decision.ok and decision.queue_for_open


def test_ioc_cannot_wait_for_the_open():
    decision = risk_evaluate(
        draft(time_in_force="ioc"), "ACME", ctx(market_open=False, allow_after_market=True)
    )
    assert not decision.ok and decision.code == "market_closed"


def test_selling_what_is_held_passes_and_short_selling_when_allowed():
    held = ctx(position_qty=Decimal("10"), open_sell_qty=Decimal("0"))
    assert risk_evaluate(draft(side="sell"), "ACME", held).ok
    # other open sells already claim part of the position
    claimed = ctx(position_qty=Decimal("10"), open_sell_qty=Decimal("5"))
    assert risk_evaluate(draft(side="sell"), "ACME", claimed).code == "short_selling"
    short_ok = ctx(limits=Limits(allow_short=True))
    assert risk_evaluate(draft(side="sell"), "ACME", short_ok).ok


def test_placement_counters_are_skipped_when_releasing_a_held_order():
    c = ctx(limits=Limits(max_orders_per_day=1), orders_today=5, counting_checks=False)
    assert risk_evaluate(draft(), "ACME", c).ok


def test_price_band_inside_passes():
    c = ctx(limits=Limits(price_band_pct=Decimal("5")))
    assert risk_evaluate(draft(limit_price=Decimal("104.95")), "ACME", c).ok


# --- the per-account rate window (cache) ----------------------------------------------------


def test_the_rate_window_counts_each_order_of_the_account_and_minute():
    # When an account places three orders in one minute
    counts = [rate_window_count(account_id="a1", now=NOW) for _ in range(3)]
    # Then each is counted, a read does not count, and the next minute / another account
    # start again
    assert counts == [1, 2, 3]
    assert rate_window_count(account_id="a1", now=NOW, bump=False) == 3
    assert rate_window_count(account_id="a1", now=NOW + timedelta(minutes=1)) == 1
    assert rate_window_count(account_id="a2", now=NOW) == 1
    assert rate_window_count(account_id="a3", now=NOW, bump=False) == 0


def test_two_first_orders_of_a_minute_both_count(monkeypatch):
    # Given another order of the account starts the minute right after this one found no key
    from django.core.cache import cache

    from orders.core import risk

    real_incr, raced = cache.incr, []

    def incr(key, *args, **kwargs):
        if not raced:
            raced.append(key)
            cache.add(key, 1, timeout=120)  # the other order
            raise ValueError(key)
        return real_incr(key, *args, **kwargs)

    monkeypatch.setattr(risk.cache, "incr", incr)
    # When this order is counted
    count = rate_window_count(account_id="a1", now=NOW)
    # Then it comes second
    assert raced and count == 2


def test_amounts_in_the_checks_read_as_on_every_page():
    # given a buy of 1,500 at 1,251.15 (value 1,876,725) on an account with 977,731.4 to spend
    big = draft(qty=Decimal("1500"), limit_price=Decimal("1251.15"))
    decision = risk_evaluate(big, "ACME", ctx(buying_power=Decimal("977731.4")))
    # then the refusal groups thousands and writes money to two places
    assert decision.message == (
        "Order value 1,876,725.00 is more than the buying power 977,731.40."
    )
    # and a passing check list reads the same way
    small = draft(qty=Decimal("2"), limit_price=Decimal("1251.15"))
    checks = {c["check"]: c["message"] for c in risk_evaluate(small, "ACME", ctx()).checks}
    assert checks["order_size"] == "Estimated value 2,502.30."
    assert checks["buying_power"] == "Buying power 1,000,000.00 covers it."
