"""Cancel and modify of resting orders, including priority rules and marketable modifies."""

from __future__ import annotations

from decimal import Decimal

from execution.matching import ExecutionResult, Order, OrderBook, Side, TimeInForce


def limit(
    order_id: str,
    side: Side,
    qty: str,
    price: str,
    *,
    owner: str = "maker",
    tif: TimeInForce = "gtc",
    display: str | None = None,
) -> Order:
    shown = None if display is None else Decimal(display)
    return Order(order_id, owner, side, "limit", tif, Decimal(qty), Decimal(price), shown)


def fills(result: ExecutionResult) -> list[tuple[str, Decimal, Decimal]]:
    return [(t.maker_order_id, t.price, t.qty) for t in result.trades]


def queue(book: OrderBook) -> list[str]:
    return [o.order_id for o in book.resting_orders()]


def book_with_three_bids() -> OrderBook:
    book = OrderBook("ACME")
    for order_id in ("b1", "b2", "b3"):
        book.submit(limit(order_id, "buy", "10", "100", owner=order_id))
    return book


def test_cancel_removes_the_order_and_reports_what_was_left():
    # given a bid that is partly filled
    book = OrderBook("ACME")
    book.submit(limit("b", "buy", "10", "100"))
    book.submit(limit("s", "sell", "4", "100", owner="seller"))
    # when it is canceled
    result = book.cancel("b")
    # then the unfilled 6 is canceled, prior fills are reported, and the level is gone
    assert (result.status, result.filled_qty, result.remaining_qty) == ("canceled", 4, 0)
    assert (result.canceled_qty, result.cancel_reason) == (6, "user")
    assert book.best_bid() is None
    assert len(book) == 0


def test_cancel_can_record_why_for_example_expiry():
    book = OrderBook("ACME")
    book.submit(limit("b", "buy", "1", "100", tif="gtd"))
    assert book.cancel("b", reason="expired").cancel_reason == "expired"


def test_cancel_of_unknown_or_finished_order_returns_none():
    # given one order canceled and one fully filled
    book = OrderBook("ACME")
    book.submit(limit("gone", "buy", "1", "100"))
    book.cancel("gone")
    book.submit(limit("filled", "buy", "1", "100"))
    book.submit(limit("s", "sell", "1", "100", owner="seller"))
    # when cancels arrive for them and for an id never seen
    # then each is a clear None, nothing raises
    assert book.cancel("gone") is None
    assert book.cancel("filled") is None
    assert book.cancel("never-seen") is None


def test_cancel_from_the_middle_of_a_level_keeps_the_others_in_order():
    book = book_with_three_bids()
    book.cancel("b2")
    assert queue(book) == ["b1", "b3"]
    assert book.depth()[0] == [(Decimal("100"), 20, 2)]
    result = book.submit(limit("s", "sell", "15", "100", owner="seller"))
    assert fills(result) == [("b1", 100, 10), ("b3", 100, 5)]


def test_size_decrease_keeps_time_priority():
    # given three bids at one price
    book = book_with_three_bids()
    # when the first is reduced from 10 to 4
    result = book.modify("b1", new_qty=Decimal(4))
    # then it stays first in the queue with the smaller size
    assert (result.status, result.remaining_qty, result.trades) == ("new", 4, [])
    assert queue(book) == ["b1", "b2", "b3"]
    assert book.depth()[0] == [(Decimal("100"), 24, 3)]
    assert fills(book.submit(limit("s", "sell", "5", "100", owner="s"))) == [
        ("b1", 100, 4),
        ("b2", 100, 1),
    ]


def test_size_increase_loses_time_priority():
    book = book_with_three_bids()
    book.modify("b1", new_qty=Decimal(12))
    assert queue(book) == ["b2", "b3", "b1"]
    assert book.get_order("b1").remaining_qty == 12


def test_price_change_moves_the_order_to_the_back_of_its_new_level():
    # given bids b1..b3 at 100 and b4 at 101
    book = book_with_three_bids()
    book.submit(limit("b4", "buy", "10", "101", owner="b4"))
    # when b1 moves to 101
    book.modify("b1", new_price=Decimal(101))
    # then it queues behind b4 there
    assert book.depth()[0] == [(Decimal("101"), 20, 2), (Decimal("100"), 20, 2)]
    assert fills(book.submit(limit("s", "sell", "15", "101", owner="s"))) == [
        ("b4", 101, 10),
        ("b1", 101, 5),
    ]


def test_new_qty_is_the_total_including_what_already_filled():
    # given a bid of 10 with 6 filled
    book = OrderBook("ACME")
    book.submit(limit("b", "buy", "10", "100"))
    book.submit(limit("s", "sell", "6", "100", owner="seller"))
    # when its total is set to 8
    result = book.modify("b", new_qty=Decimal(8))
    # then 2 remain resting
    assert (result.status, result.filled_qty, result.remaining_qty) == ("partially_filled", 6, 2)


def test_new_qty_at_or_below_filled_is_rejected_and_changes_nothing():
    # given a bid of 10 with 6 filled
    book = OrderBook("ACME")
    book.submit(limit("b", "buy", "10", "100"))
    book.submit(limit("s", "sell", "6", "100", owner="seller"))
    before = book.resting_orders()
    # when its total is set to 6 (already filled), together with a price change
    result = book.modify("b", new_qty=Decimal(6), new_price=Decimal(99))
    # then the modify is rejected and the order is exactly as before
    assert (result.status, result.reject_reason) == ("rejected", "qty_not_above_filled")
    assert (result.filled_qty, result.remaining_qty) == (6, 4)
    assert book.resting_orders() == before


def test_invalid_modify_values_are_rejected():
    book = book_with_three_bids()
    before = book.resting_orders()
    assert book.modify("b1", new_qty=Decimal(0)).reject_reason == "invalid_qty"
    assert book.modify("b1", new_price=Decimal("-1")).reject_reason == "invalid_price"
    assert book.resting_orders() == before


def test_modify_without_an_effective_change_keeps_everything():
    book = book_with_three_bids()
    result = book.modify("b1", new_qty=Decimal(10), new_price=Decimal(100))
    assert (result.status, result.remaining_qty, result.reject_reason) == ("new", 10, None)
    assert queue(book) == ["b1", "b2", "b3"]


def test_modify_of_unknown_order_returns_none():
    assert OrderBook("ACME").modify("nope", new_qty=Decimal(1)) is None


def test_price_change_that_crosses_trades_immediately_at_resting_prices():
    # given a bid at 99 and asks 3@100, 5@101
    book = OrderBook("ACME")
    book.submit(limit("b", "buy", "10", "99", owner="buyer"))
    book.submit(limit("a1", "sell", "3", "100"))
    book.submit(limit("a2", "sell", "5", "101"))
    # when the bid is repriced to 100
    result = book.modify("b", new_price=Decimal(100))
    # then it takes the 100 ask as taker and rests the remaining 7 at 100
    assert fills(result) == [("a1", 100, 3)]
    assert result.trades[0].taker_order_id == "b"
    assert (result.status, result.filled_qty, result.remaining_qty) == ("partially_filled", 3, 7)
    assert book.depth() == ([(Decimal("100"), 7, 1)], [(Decimal("101"), 5, 1)])


def test_crossing_modify_that_meets_own_order_is_canceled_by_self_trade_prevention():
    book = OrderBook("ACME")
    book.submit(limit("b", "buy", "10", "99", owner="alice"))
    book.submit(limit("a", "sell", "3", "100", owner="alice"))
    result = book.modify("b", new_price=Decimal(100))
    assert (result.status, result.canceled_qty, result.cancel_reason) == (
        "canceled",
        10,
        "self_trade",
    )
    assert book.get_order("b") is None
    assert book.best_ask() == 100


def test_iceberg_size_decrease_comes_out_of_the_reserve_first():
    # given an iceberg of 30 showing 10
    book = OrderBook("ACME")
    book.submit(limit("ice", "sell", "30", "100", display="10"))
    # when it is cut to 15, then to 6
    book.modify("ice", new_qty=Decimal(15))
    shown_after_first = book.get_order("ice").visible_qty
    book.modify("ice", new_qty=Decimal(6))
    # then the shown slice stays 10 until the reserve is gone, then shrinks
    assert shown_after_first == 10
    assert book.depth()[1] == [(Decimal("100"), 6, 1)]
