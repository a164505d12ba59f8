"""Rebuilding a book at start-up from persisted open orders."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from execution.matching import MatchingEngine, Order, OrderBook, RestingOrder, Side


def limit(
    order_id: str, side: Side, qty: str, price: str, *, owner: str, display: str | None = None
) -> Order:
    shown = None if display is None else Decimal(display)
    return Order(order_id, owner, side, "limit", "gtc", Decimal(qty), Decimal(price), shown)


def without_seq(book: OrderBook) -> list[RestingOrder]:
    return [replace(o, seq=0) for o in book.resting_orders()]


def rebuild(book: OrderBook) -> OrderBook:
    rebuilt = OrderBook(book.symbol)
    for resting in book.resting_orders():
        rebuilt.load_resting(resting.to_order(), resting.filled_qty, resting.visible_qty)
    return rebuilt


def test_rebuild_preserves_queue_priority_fills_and_iceberg_slices():
    # given a live book whose queues were reshuffled by modifies and an iceberg refill
    book = OrderBook("ACME")
    book.submit(limit("s1", "sell", "5", "101", owner="a"))
    book.submit(limit("ice", "sell", "20", "101", owner="b", display="4"))
    book.submit(limit("s2", "sell", "5", "101", owner="c"))
    book.submit(limit("s3", "sell", "5", "102", owner="d"))
    book.submit(limit("b1", "buy", "5", "99", owner="e"))
    book.submit(limit("b2", "buy", "5", "99", owner="f"))
    book.modify("s1", new_qty=Decimal(8))  # to the back
    book.submit(limit("t", "buy", "6", "101", owner="g"))  # ice slice of 4 refills, s2 partly
    book.modify("b1", new_qty=Decimal(3))  # keeps place
    # when a new book is loaded from the persisted snapshot, in the given order
    rebuilt = rebuild(book)
    # then queues, fills, remaining and visible slices are identical (seq is renumbered)
    assert without_seq(rebuilt) == without_seq(book)
    assert rebuilt.depth() == book.depth()
    # and both books react identically to the same aggressive order
    sweep_a = book.submit(limit("x", "buy", "40", "102", owner="z"))
    sweep_b = rebuilt.submit(limit("x", "buy", "40", "102", owner="z"))
    as_tuples = [(t.maker_order_id, t.price, t.qty) for t in sweep_a.trades]
    assert as_tuples == [(t.maker_order_id, t.price, t.qty) for t in sweep_b.trades]
    # (s2 was partly filled; s1 lost its place; ice's refilled slice queued last)
    assert [maker for maker, _, _ in as_tuples][:4] == ["s2", "s1", "ice", "ice"]


def test_load_does_not_match_and_refuses_to_cross_the_book():
    # given a book with an ask at 100
    book = OrderBook("ACME")
    book.load_resting(limit("a", "sell", "5", "100", owner="x"))
    # when a bid at 100 is loaded, then it is refused instead of trading
    with pytest.raises(ValueError, match="would_cross_book"):
        book.load_resting(limit("b", "buy", "5", "100", owner="y"))
    assert book.depth() == ([], [(Decimal("100"), 5, 1)])


@pytest.mark.parametrize(
    ("order", "filled", "visible", "problem"),
    [
        (limit("a", "sell", "5", "100", owner="x"), Decimal(5), None, "invalid_filled_qty"),
        (limit("a", "sell", "5", "100", owner="x"), Decimal(-1), None, "invalid_filled_qty"),
        (limit("a", "sell", "5", "100", owner="x"), Decimal(1), Decimal(3), "invalid_visible_qty"),
        (
            limit("a", "sell", "9", "100", owner="x", display="2"),
            Decimal(0),
            Decimal(3),
            "invalid_visible_qty",
        ),
        (
            Order("a", "x", "sell", "limit", "ioc", Decimal(1), Decimal(1)),
            Decimal(0),
            None,
            "not_a_resting_limit_order",
        ),
        (limit("dup", "sell", "5", "100", owner="x"), Decimal(0), None, "duplicate_order_id"),
    ],
)
def test_load_rejects_inconsistent_snapshots(order, filled, visible, problem):
    book = OrderBook("ACME")
    book.load_resting(limit("dup", "sell", "1", "200", owner="x"))
    with pytest.raises(ValueError, match=problem):
        book.load_resting(order, filled, visible)


def test_loaded_partially_filled_order_reports_its_fills():
    engine = MatchingEngine()
    engine.load_resting("ACME", limit("a", "sell", "10", "100", owner="x"), Decimal(4))
    result = engine.submit("ACME", limit("b", "buy", "6", "100", owner="y"))
    assert result.trades[0].maker_remaining_qty == 0
    assert engine.cancel("a") is None  # fully filled: 4 before restart + 6 now
