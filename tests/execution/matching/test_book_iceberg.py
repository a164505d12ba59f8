"""Iceberg orders: only the slice shows, consumed slices refill at the back of the level."""

from __future__ import annotations

from decimal import Decimal

from execution.matching import ExecutionResult, Order, OrderBook, TimeInForce


def sell(
    order_id: str, qty: str, price: str, *, display: str | None = None, owner: str = "m"
) -> Order:
    shown = None if display is None else Decimal(display)
    return Order(order_id, owner, "sell", "limit", "gtc", Decimal(qty), Decimal(price), shown)


def buy(
    order_id: str, qty: str, price: str, *, tif: TimeInForce = "ioc", owner: str = "taker"
) -> Order:
    return Order(order_id, owner, "buy", "limit", tif, Decimal(qty), Decimal(price))


def fills(result: ExecutionResult) -> list[tuple[str, Decimal]]:
    return [(t.maker_order_id, t.qty) for t in result.trades]


def test_iceberg_shows_only_its_display_qty_in_depth():
    # given an iceberg of 100 showing 10 and a plain order of 5 at the same price
    book = OrderBook("ACME")
    book.submit(sell("ice", "100", "50", display="10"))
    book.submit(sell("plain", "5", "50"))
    # when depth is read
    _, asks = book.depth()
    # then only the displayed 10 plus the plain 5 are visible
    assert asks == [(Decimal("50"), 15, 2)]
    snapshot = book.get_order("ice")
    assert (snapshot.visible_qty, snapshot.remaining_qty) == (10, 100)


def test_partly_consumed_slice_keeps_its_place():
    # given an iceberg ahead of a plain order
    book = OrderBook("ACME")
    book.submit(sell("ice", "30", "50", display="10"))
    book.submit(sell("plain", "5", "50"))
    # when 4 is bought, then 4 more
    first = book.submit(buy("t1", "4", "50"))
    second = book.submit(buy("t2", "4", "50"))
    # then both come out of the iceberg's still-visible slice
    assert fills(first) == [("ice", 4)]
    assert fills(second) == [("ice", 4)]
    assert book.depth()[1] == [(Decimal("50"), 7, 2)]


def test_consumed_slice_refills_and_goes_to_the_back_of_the_level():
    # given an iceberg (30 showing 10) ahead of a plain order of 5
    book = OrderBook("ACME")
    book.submit(sell("ice", "30", "50", display="10"))
    book.submit(sell("plain", "5", "50"))
    # when exactly the visible slice is bought
    book.submit(buy("t1", "10", "50"))
    # then a new slice of 10 is shown, queued behind the plain order
    assert book.depth()[1] == [(Decimal("50"), 15, 2)]
    order = [o.order_id for o in book.resting_orders()]
    assert order == ["plain", "ice"]
    # and the next buyer trades with the plain order first
    assert fills(book.submit(buy("t2", "3", "50"))) == [("plain", 3)]


def test_one_incoming_order_sweeps_several_slices_letting_others_go_first():
    # given iceberg A (25 showing 10) then plain B (4) at one price
    book = OrderBook("ACME")
    book.submit(sell("A", "25", "50", display="10"))
    book.submit(sell("B", "4", "50"))
    # when a buyer takes 22 at once
    result = book.submit(buy("t", "22", "50"))
    # then A's slice, then B, then A's refilled slices, each refill at the back
    assert fills(result) == [("A", 10), ("B", 4), ("A", 8)]
    assert [t.maker_remaining_qty for t in result.trades] == [15, 0, 7]
    # and A shows the 2 left of its current slice, with 5 more in reserve
    remaining = book.get_order("A")
    assert (remaining.visible_qty, remaining.remaining_qty) == (2, 7)


def test_last_slice_is_whatever_reserve_is_left():
    # given an iceberg of 12 showing 5
    book = OrderBook("ACME")
    book.submit(sell("ice", "12", "50", display="5"))
    # when two full slices are bought
    book.submit(buy("t", "10", "50"))
    # then the final slice is the remaining 2
    assert book.depth()[1] == [(Decimal("50"), 2, 1)]
    # and buying it removes the order from the book
    result = book.submit(buy("t2", "2", "50"))
    assert result.trades[0].maker_remaining_qty == 0
    assert book.get_order("ice") is None
    assert book.depth() == ([], [])


def test_fok_counts_the_hidden_reserve_as_liquidity():
    # given an iceberg of 20 showing only 2
    book = OrderBook("ACME")
    book.submit(sell("ice", "20", "50", display="2"))
    # when a fok buy for 20 arrives
    result = book.submit(buy("f", "20", "50", tif="fok"))
    # then it fills completely through all the slices
    assert result.status == "filled"
    assert sum(t.qty for t in result.trades) == 20
    assert len(book) == 0


def test_fok_larger_than_visible_plus_reserve_is_killed():
    book = OrderBook("ACME")
    book.submit(sell("ice", "20", "50", display="2"))
    before = book.resting_orders()
    result = book.submit(buy("f", "21", "50", tif="fok"))
    assert (result.status, result.cancel_reason, result.trades) == ("canceled", "fok", [])
    assert book.resting_orders() == before


def test_incoming_iceberg_rests_its_remainder_as_an_iceberg():
    # given 3 offered
    book = OrderBook("ACME")
    book.submit(sell("s", "3", "50"))
    # when an iceberg buy of 20 showing 4 crosses it (taking is not limited by the display)
    iceberg = Order("ice", "b", "buy", "limit", "gtc", Decimal(20), Decimal(50), Decimal(4))
    result = book.submit(iceberg)
    # then it fills 3 and rests 17, of which 4 are shown
    assert (result.status, result.filled_qty, result.remaining_qty) == ("partially_filled", 3, 17)
    assert book.depth()[0] == [(Decimal("50"), 4, 1)]
