"""Limit / market / ioc / fok matching, self-trade prevention, depth and input rejection."""

from __future__ import annotations

from decimal import Decimal

import pytest

from execution.matching import ExecutionResult, MatchingEngine, Order, OrderBook, Side, TimeInForce


def limit(
    order_id: str,
    side: Side,
    qty: str,
    price: str,
    *,
    owner: str = "maker",
    tif: TimeInForce = "gtc",
) -> Order:
    return Order(order_id, owner, side, "limit", tif, Decimal(qty), Decimal(price))


def market(
    order_id: str, side: Side, qty: str, *, owner: str = "taker", tif: TimeInForce = "ioc"
) -> Order:
    return Order(order_id, owner, side, "market", tif, Decimal(qty))


def fills(result: ExecutionResult) -> list[tuple[str, Decimal, Decimal]]:
    return [(t.maker_order_id, t.price, t.qty) for t in result.trades]


def test_non_marketable_limit_order_rests_and_shows_in_depth():
    # given an empty book
    book = OrderBook("ACME")
    # when a buy and a sell that do not cross arrive
    bid = book.submit(limit("b1", "buy", "5", "99.50"))
    ask = book.submit(limit("s1", "sell", "3", "100.25"))
    # then both rest untouched and are visible at their prices
    assert (bid.status, bid.filled_qty, bid.remaining_qty, bid.trades) == ("new", 0, 5, [])
    assert (ask.status, ask.remaining_qty) == ("new", 3)
    assert book.best_bid() == Decimal("99.50")
    assert book.best_ask() == Decimal("100.25")
    assert book.depth() == ([(Decimal("99.50"), 5, 1)], [(Decimal("100.25"), 3, 1)])


def test_better_priced_level_fills_first_even_if_it_arrived_later():
    # given asks at 101 (older) and 100 (newer)
    book = OrderBook("ACME")
    book.submit(limit("s101", "sell", "5", "101"))
    book.submit(limit("s100", "sell", "5", "100"))
    # when a buyer willing to pay 101 takes 5
    result = book.submit(limit("b", "buy", "5", "101", owner="taker"))
    # then the cheaper ask fills, the 101 ask is untouched
    assert fills(result) == [("s100", 100, 5)]
    assert book.depth()[1] == [(Decimal("101"), 5, 1)]


def test_earlier_order_at_the_same_price_fills_first():
    # given two bids at the same price, b1 first
    book = OrderBook("ACME")
    book.submit(limit("b1", "buy", "4", "50", owner="alice"))
    book.submit(limit("b2", "buy", "4", "50", owner="bob"))
    # when a seller takes 6
    result = book.submit(limit("s", "sell", "6", "50", owner="carol"))
    # then b1 fills completely before b2 gets anything
    assert fills(result) == [("b1", 50, 4), ("b2", 50, 2)]
    assert book.get_order("b1") is None
    assert book.get_order("b2").remaining_qty == 2


def test_trade_executes_at_the_resting_price_not_the_aggressive_limit():
    # given an ask at 100
    book = OrderBook("ACME")
    book.submit(limit("s", "sell", "2", "100"))
    # when a buy limit at 105 crosses it
    result = book.submit(limit("b", "buy", "2", "105", owner="taker"))
    # then the buyer pays 100 and the trade records who was maker and taker
    (trade,) = result.trades
    assert trade.price == Decimal("100")
    assert (trade.maker_order_id, trade.maker_owner) == ("s", "maker")
    assert (trade.taker_order_id, trade.taker_owner, trade.aggressor_side) == ("b", "taker", "buy")
    assert (trade.symbol, trade.trade_id, trade.seq, trade.maker_remaining_qty) == ("ACME", 1, 1, 0)
    assert result.status == "filled"


def test_incoming_order_walks_levels_and_rests_its_remainder():
    # given asks 2@100, 3@101, 10@103
    book = OrderBook("ACME")
    book.submit(limit("a", "sell", "2", "100"))
    book.submit(limit("b", "sell", "3", "101"))
    book.submit(limit("c", "sell", "10", "103"))
    # when a buy of 8 limited at 102 arrives
    result = book.submit(limit("buy", "buy", "8", "102", owner="taker"))
    # then it fills 5 over two levels, stops at its limit, and rests 3 at 102
    assert fills(result) == [("a", 100, 2), ("b", 101, 3)]
    assert (result.status, result.filled_qty, result.remaining_qty) == ("partially_filled", 5, 3)
    assert book.depth() == ([(Decimal("102"), 3, 1)], [(Decimal("103"), 10, 1)])
    assert [t.trade_id for t in result.trades] == [1, 2]


def test_resting_order_partially_filled_keeps_its_place():
    # given a big ask
    book = OrderBook("ACME")
    book.submit(limit("s", "sell", "10", "100"))
    # when a small buy hits it
    result = book.submit(limit("b", "buy", "4", "100", owner="taker"))
    # then the ask shows what is left and reports partial fill
    assert result.trades[0].maker_remaining_qty == 6
    resting = book.get_order("s")
    assert (resting.filled_qty, resting.remaining_qty) == (4, 6)
    assert book.depth()[1] == [(Decimal("100"), 6, 1)]


def test_market_order_without_liquidity_is_canceled():
    # given an empty ask side
    book = OrderBook("ACME")
    book.submit(limit("b", "buy", "1", "10"))
    # when a market buy arrives
    result = book.submit(market("m", "buy", "5"))
    # then nothing trades and the whole order is canceled, never resting
    assert (result.status, result.canceled_qty, result.cancel_reason) == (
        "canceled",
        5,
        "market_no_liquidity",
    )
    assert result.trades == []
    assert book.depth() == ([(Decimal("10"), 1, 1)], [])


def test_market_order_fills_available_liquidity_and_cancels_the_rest():
    # given 3 offered over two levels
    book = OrderBook("ACME")
    book.submit(limit("a", "sell", "1", "100"))
    book.submit(limit("b", "sell", "2", "250"))
    # when a market buy for 5 arrives
    result = book.submit(market("m", "buy", "5", tif="day"))
    # then it takes everything at any price and cancels the unfilled 2
    assert fills(result) == [("a", 100, 1), ("b", 250, 2)]
    assert (result.status, result.filled_qty, result.remaining_qty) == ("canceled", 3, 0)
    assert (result.canceled_qty, result.cancel_reason) == (2, "market_no_liquidity")
    assert book.best_ask() is None


def test_ioc_fills_what_it_can_and_cancels_the_rest():
    # given 2 offered at 100
    book = OrderBook("ACME")
    book.submit(limit("a", "sell", "2", "100"))
    # when an ioc buy for 5 at 100 arrives
    result = book.submit(limit("i", "buy", "5", "100", owner="taker", tif="ioc"))
    # then it fills 2 and the remaining 3 is canceled instead of resting
    assert (result.status, result.filled_qty, result.canceled_qty, result.cancel_reason) == (
        "canceled",
        2,
        3,
        "ioc",
    )
    assert book.depth() == ([], [])


def test_ioc_that_cannot_trade_is_canceled_entirely():
    book = OrderBook("ACME")
    book.submit(limit("a", "sell", "2", "100"))
    result = book.submit(limit("i", "buy", "5", "99", owner="taker", tif="ioc"))
    assert (result.status, result.filled_qty, result.canceled_qty) == ("canceled", 0, 5)
    assert book.best_bid() is None


def test_fok_fills_completely_across_levels_when_liquidity_suffices():
    # given 5 offered over two levels within the limit
    book = OrderBook("ACME")
    book.submit(limit("a", "sell", "2", "100"))
    book.submit(limit("b", "sell", "3", "101"))
    # when a fok buy for exactly 5 arrives
    result = book.submit(limit("f", "buy", "5", "101", owner="taker", tif="fok"))
    # then it fills entirely
    assert result.status == "filled"
    assert fills(result) == [("a", 100, 2), ("b", 101, 3)]
    assert book.best_ask() is None


def test_fok_that_cannot_fill_completely_leaves_the_book_untouched():
    # given only 5 offered within the limit (more beyond it)
    book = OrderBook("ACME")
    book.submit(limit("a", "sell", "2", "100"))
    book.submit(limit("b", "sell", "3", "101"))
    book.submit(limit("c", "sell", "9", "102"))
    before = book.resting_orders()
    # when a fok buy for 6 limited at 101 arrives
    result = book.submit(limit("f", "buy", "6", "101", owner="taker", tif="fok"))
    # then nothing trades and the book is exactly as before
    assert (result.status, result.filled_qty, result.canceled_qty, result.cancel_reason) == (
        "canceled",
        0,
        6,
        "fok",
    )
    assert result.trades == []
    assert book.resting_orders() == before


def test_market_fok_without_enough_liquidity_is_killed():
    book = OrderBook("ACME")
    book.submit(limit("a", "sell", "2", "100"))
    result = book.submit(market("f", "buy", "3", tif="fok"))
    assert (result.status, result.cancel_reason, result.trades) == ("canceled", "fok", [])
    assert book.depth()[1] == [(Decimal("100"), 2, 1)]


def test_self_trade_prevention_cancels_the_incoming_remainder_at_that_point():
    # given asks from bob then alice then carol at the same price
    book = OrderBook("ACME")
    book.submit(limit("bob1", "sell", "2", "100", owner="bob"))
    book.submit(limit("alice1", "sell", "2", "100", owner="alice"))
    book.submit(limit("carol1", "sell", "2", "100", owner="carol"))
    # when alice buys 5
    result = book.submit(limit("alice2", "buy", "5", "100", owner="alice"))
    # then she trades with bob, stops at her own order, and her remaining 3 is canceled
    assert fills(result) == [("bob1", 100, 2)]
    assert (result.status, result.filled_qty, result.canceled_qty, result.cancel_reason) == (
        "canceled",
        2,
        3,
        "self_trade",
    )
    # and her resting order and carol's are untouched, and nothing of hers rests on the bid
    assert [o.order_id for o in book.resting_orders()] == ["alice1", "carol1"]
    assert book.best_bid() is None


def test_self_trade_prevention_before_any_fill_cancels_the_whole_order():
    book = OrderBook("ACME")
    book.submit(limit("mine", "sell", "2", "100", owner="alice"))
    book.submit(limit("other", "sell", "2", "101", owner="bob"))
    result = book.submit(market("m", "buy", "3", owner="alice"))
    assert (result.status, result.filled_qty, result.cancel_reason, result.trades) == (
        "canceled",
        0,
        "self_trade",
        [],
    )
    assert len(book) == 2


def test_fok_counts_only_liquidity_reachable_before_own_resting_order():
    # given 2 from bob, then alice's own order, then 5 from carol at one price
    book = OrderBook("ACME")
    book.submit(limit("bob1", "sell", "2", "100", owner="bob"))
    book.submit(limit("alice1", "sell", "1", "100", owner="alice"))
    book.submit(limit("carol1", "sell", "5", "100", owner="carol"))
    before = book.resting_orders()
    # when alice sends a fok buy for 3 (self-trade prevention would stop her after 2)
    result = book.submit(limit("f", "buy", "3", "100", owner="alice", tif="fok"))
    # then it is killed without trading
    assert (result.status, result.cancel_reason, result.trades) == ("canceled", "fok", [])
    assert book.resting_orders() == before


def test_depth_aggregates_visible_qty_and_counts_per_level_best_first():
    # given several orders on several levels each side
    book = OrderBook("ACME")
    for i, (qty, price) in enumerate([("1", "99"), ("2", "99"), ("4", "98"), ("8", "97")]):
        book.submit(limit(f"b{i}", "buy", qty, price))
    for i, (qty, price) in enumerate([("3", "101"), ("5", "102"), ("7", "102")]):
        book.submit(limit(f"s{i}", "sell", qty, price))
    # when depth is asked for two levels
    bids, asks = book.depth(levels=2)
    # then levels are best first with summed qty and order counts
    assert bids == [(Decimal("99"), 3, 2), (Decimal("98"), 4, 1)]
    assert asks == [(Decimal("101"), 3, 1), (Decimal("102"), 12, 2)]
    assert book.depth(levels=0) == ([], [])
    assert len(book.depth(levels=50)[0]) == 3


def test_prices_equal_in_value_share_one_level():
    book = OrderBook("ACME")
    book.submit(limit("a", "buy", "1", "100.0"))
    book.submit(limit("b", "buy", "1", "100.00"))
    assert book.depth()[0] == [(Decimal("100"), 2, 2)]


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        (Order("x", "u", "buy", "limit", "gtc", 5.0, Decimal(1)), "invalid_qty"),
        (Order("x", "u", "buy", "limit", "gtc", Decimal(0), Decimal(1)), "invalid_qty"),
        (Order("x", "u", "buy", "limit", "gtc", Decimal("NaN"), Decimal(1)), "invalid_qty"),
        (Order("x", "u", "buy", "limit", "gtc", Decimal(1), None), "invalid_price"),
        (Order("x", "u", "buy", "limit", "gtc", Decimal(1), Decimal(-1)), "invalid_price"),
        (
            Order("x", "u", "buy", "market", "ioc", Decimal(1), Decimal(1)),
            "market_order_with_price",
        ),
        (Order("x", "u", "up", "limit", "gtc", Decimal(1), Decimal(1)), "invalid_side"),
        (Order("x", "u", "buy", "stop", "gtc", Decimal(1), Decimal(1)), "invalid_type"),
        (Order("x", "u", "buy", "limit", "gtx", Decimal(1), Decimal(1)), "invalid_tif"),
        (Order("", "u", "buy", "limit", "gtc", Decimal(1), Decimal(1)), "invalid_order_id"),
        (Order("x", "", "buy", "limit", "gtc", Decimal(1), Decimal(1)), "invalid_owner"),
        (
            Order("x", "u", "buy", "limit", "ioc", Decimal(5), Decimal(1), Decimal(1)),
            "iceberg_must_rest",
        ),
        (
            Order("x", "u", "buy", "limit", "gtc", Decimal(5), Decimal(1), Decimal(0)),
            "invalid_display_qty",
        ),
        (Order("live", "u", "sell", "limit", "gtc", Decimal(1), Decimal(9)), "duplicate_order_id"),
    ],
)
def test_invalid_orders_are_rejected_and_change_nothing(order: Order, reason: str):
    # given a book with one resting order
    book = OrderBook("ACME")
    book.submit(limit("live", "buy", "1", "1"))
    before = book.resting_orders()
    # when an invalid order is submitted
    result = book.submit(order)
    # then it is rejected with a reason and the book is unchanged
    assert (result.status, result.reject_reason, result.trades) == ("rejected", reason, [])
    assert book.resting_orders() == before


def test_engine_routes_by_symbol_and_numbers_trades_engine_wide():
    # given an engine with resting asks in two symbols
    engine = MatchingEngine()
    engine.submit("AAA", limit("a1", "sell", "1", "10"))
    engine.submit("BBB", limit("b1", "sell", "1", "20"))
    # when each is hit
    first = engine.submit("AAA", limit("a2", "buy", "1", "10", owner="taker"))
    second = engine.submit("BBB", limit("b2", "buy", "1", "20", owner="taker"))
    # then trade ids run across the engine while seq counts per symbol
    assert [(t.symbol, t.trade_id, t.seq) for t in first.trades + second.trades] == [
        ("AAA", 1, 1),
        ("BBB", 2, 1),
    ]
    assert sorted(engine.symbols) == ["AAA", "BBB"]
    assert engine.get_book("CCC") is None


def test_engine_cancels_and_modifies_by_order_id_without_a_symbol():
    engine = MatchingEngine()
    engine.submit("AAA", limit("a1", "buy", "5", "10"))
    engine.submit("BBB", limit("b1", "buy", "5", "20"))
    assert engine.modify("b1", new_qty=Decimal(3)).remaining_qty == 3
    assert engine.cancel("a1").canceled_qty == 5
    assert engine.cancel("a1") is None
    assert engine.modify("nope", new_qty=Decimal(1)) is None
    assert engine.book("AAA").best_bid() is None
    assert engine.book("BBB").depth()[0] == [(Decimal("20"), 3, 1)]


def test_order_ids_are_unique_across_the_engines_books():
    engine = MatchingEngine()
    engine.submit("AAA", limit("same", "buy", "5", "10"))
    result = engine.submit("BBB", limit("same", "buy", "5", "10"))
    assert (result.status, result.reject_reason) == ("rejected", "duplicate_order_id")
    # and a book refuses to cancel another book's order
    assert engine.book("BBB").cancel("same") is None
