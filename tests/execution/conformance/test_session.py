"""One scripted session, the same OMS state on every venue (paper, exchange, alpaca, kite).

place a limit buy 10 @ 99.50 → the venue fills 4 → modify to 12 @ 99.60 → cancel the rest;
place a buy 6 @ 99.80 → the venue fills it → position 10 @ 99.68 (FIFO) → close at 100.50.
"""

from __future__ import annotations

from decimal import Decimal as D

from tests.execution.conformance.session import (
    QUOTE,
    assert_nothing_lost_or_doubled,
    cancel,
    cash,
    modify,
    place,
    position_numbers,
    state,
)


def test_place_partial_fill_modify_cancel_then_fill_position_and_close(venue):
    venue.quote(**QUOTE)
    cash_before = cash(venue)
    # given a resting limit buy of 10 at 99.50
    first = place(venue)["id"]
    assert state(venue, first) == ("new", 10, 0, None, D("99.50"))
    # when the venue fills 4 of it
    venue.fill(first, qty="4", price="99.50")
    assert state(venue, first) == ("partially_filled", 10, 4, D("99.50"), D("99.50"))
    venue.quote(**QUOTE)  # the market moves back up: nothing else crosses
    # and the trader raises it to 12 at 99.60, then cancels the rest
    modify(venue, first, qty="12", limit_price="99.60")
    assert state(venue, first) == ("partially_filled", 12, 4, D("99.50"), D("99.60"))
    cancel(venue, first)
    assert state(venue, first) == ("canceled", 12, 4, D("99.50"), D("99.60"))
    # when another buy of 6 at 99.80 fills
    second = place(venue, qty="6", limit_price="99.80")["id"]
    venue.fill(second, qty="6", price="99.80")
    assert state(venue, second) == ("filled", 6, 6, D("99.80"), D("99.80"))
    # then the position is 10 at the FIFO average 99.68, marked at 100
    venue.quote(**QUOTE)
    assert position_numbers(venue) == (10, D("99.68"), 0, D("3.20"))
    # when the trader closes it and the market sell fills at the bid 100.50
    venue.before_close(qty="10", bid="100.50")
    answer = venue.client.post(
        "/api/v1/positions/close",
        {"account": str(venue.account.pk), "symbol": venue.symbol},
        format="json",
    )
    assert answer.status_code in (200, 201, 202), answer.json()
    venue.deliver(lambda: position_numbers(venue)[0] == 0)
    # then it is flat with 4 × 1.00 + 6 × 0.70 realized, and cash moved by exactly that
    assert position_numbers(venue) == (0, None, D("8.20"), 0)
    assert cash(venue) - cash_before == D("8.20")
    assert_nothing_lost_or_doubled(venue)


def test_place_modify_cancel_then_fill_position_and_close(venue):
    """The same session without the partial fill."""
    venue.quote(**QUOTE)
    cash_before = cash(venue)
    first = place(venue)["id"]
    modify(venue, first, qty="12", limit_price="99.60")
    assert state(venue, first) == ("new", 12, 0, None, D("99.60"))
    cancel(venue, first)
    assert state(venue, first) == ("canceled", 12, 0, None, D("99.60"))
    second = place(venue, qty="6", limit_price="99.80")["id"]
    venue.fill(second, qty="6", price="99.80")
    assert state(venue, second) == ("filled", 6, 6, D("99.80"), D("99.80"))
    venue.quote(**QUOTE)
    assert position_numbers(venue) == (6, D("99.80"), 0, D("1.20"))
    venue.before_close(qty="6", bid="100.50")
    answer = venue.client.post(
        "/api/v1/positions/close",
        {"account": str(venue.account.pk), "symbol": venue.symbol},
        format="json",
    )
    assert answer.status_code in (200, 201, 202), answer.json()
    venue.deliver(lambda: position_numbers(venue)[0] == 0)
    assert position_numbers(venue) == (0, None, D("4.20"), 0)
    assert cash(venue) - cash_before == D("4.20")
    assert_nothing_lost_or_doubled(venue)
