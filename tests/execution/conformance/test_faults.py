"""The fault cases, per venue where they apply: each ends with nothing lost or doubled
(orders at the venue = orders in OMS, fills booked = the venue's executions, position = Σ fills).
"""

from __future__ import annotations

from decimal import Decimal as D

from tests.execution.conformance.session import (
    QUOTE,
    assert_nothing_lost_or_doubled,
    cash,
    oms_fills,
    order,
    place,
    state,
)


def test_a_refused_order_is_rejected_with_the_venues_reason(venue):
    venue.quote(**QUOTE)
    reason = venue.arrange_reject("insufficient buying power")
    # when the venue refuses the order
    placed = place(venue, type="market", limit_price=None)
    venue.deliver(lambda: order(venue, placed["id"])["status"] == "rejected")
    # then OMS shows it rejected, in the venue's words
    got = order(venue, placed["id"])
    assert got["status"] == "rejected" and reason in got["reject_reason"], got
    assert_nothing_lost_or_doubled(venue)


def test_an_order_whose_answer_was_lost_is_found_by_its_client_id_and_sent_once(venue):
    venue.quote(**QUOTE)
    venue.arrange("timeout_after_accept")
    # when the venue accepts the order but its answer comes too late
    placed = place(venue)
    # then OMS found it at the venue by our id: working, exactly one order there
    venue.deliver(lambda: order(venue, placed["id"])["status"] == "new")
    assert venue.venue_totals()[placed["id"]].orders == 1
    # and it is the live order: a fill of it reaches OMS
    venue.fill(placed["id"], qty="10", price="99.50")
    assert state(venue, placed["id"]) == ("filled", 10, 10, D("99.50"), D("99.50"))
    assert_nothing_lost_or_doubled(venue)


def test_a_429_is_retried_or_refused_cleanly_never_sent_twice(venue):
    venue.quote(**QUOTE)
    venue.arrange("rate_limited")
    placed = place(venue)
    status = order(venue, placed["id"])["status"]
    held = venue.venue_totals().get(placed["id"])
    # either retried (one order at the venue) or refused (none), never two
    assert (status, held.orders if held else 0) in (("new", 1), ("rejected", 0)), (status, held)
    assert_nothing_lost_or_doubled(venue)


def test_fills_sent_while_the_stream_was_down_are_caught_up_after_it_reconnects(venue):
    venue.quote(**QUOTE)
    placed = place(venue)
    venue.deliver(lambda: order(venue, placed["id"])["status"] == "new")
    venue.follow_stream()
    venue.arrange("stream_drop", lose=1)
    # when the venue fills the order while its update never arrives, and the stream drops
    venue.fill(placed["id"], qty="10", price="99.50", deliver=False)
    venue.drop_stream()
    # then after the reconnect OMS catches the fill up, once
    venue.deliver(lambda: order(venue, placed["id"])["status"] == "filled")
    assert state(venue, placed["id"]) == ("filled", 10, 10, D("99.50"), D("99.50"))
    assert_nothing_lost_or_doubled(venue)


def test_duplicate_and_out_of_order_updates_book_each_fill_once(venue):
    venue.quote(**QUOTE)
    if venue.name == "kite":
        venue.use_postbacks()  # Kite's postbacks repeat and reorder like its ticker
    placed = place(venue)
    venue.deliver(lambda: order(venue, placed["id"])["status"] == "new")
    venue.arrange("duplicate")
    venue.arrange("out_of_order")
    # when the venue fills 4 then 6, and repeats and reorders its updates
    venue.fill(placed["id"], qty="4", price="99.50")
    venue.fill(placed["id"], qty="6", price="99.50")
    venue.deliver(lambda: order(venue, placed["id"])["status"] == "filled")
    # then each fill is booked once: 10, in two fills
    assert state(venue, placed["id"]) == ("filled", 10, 10, D("99.50"), D("99.50"))
    assert sorted(D(f["qty"]) for f in oms_fills(venue)) == [4, 6]
    assert_nothing_lost_or_doubled(venue)


def test_a_broker_that_stops_answering_is_unavailable_and_shows_disconnected(venue):
    venue.quote(**QUOTE)
    cash(venue)  # the broker answered before: OMS knows its figures
    working = place(venue)["id"]
    venue.deliver(lambda: order(venue, working)["status"] == "new")
    # when the broker stops answering
    venue.go_silent()
    # then a new order is not sent: it ends rejected as broker_unavailable (placing is
    # asynchronous: the API stored it, 201)
    refused = place(venue)["id"]
    got = order(venue, refused)
    assert got["status"] == "rejected", got
    assert got["reject_reason"].startswith("broker_unavailable: "), got
    # and cancelling the working order answers 503 broker_unavailable; it stays working
    answer = venue.client.delete(f"/api/v1/orders/{working}")
    assert answer.status_code == 503, answer.json()
    assert answer.json()["error"]["code"] == "broker_unavailable"
    assert order(venue, working)["status"] == "new"
    # and the account's broker status says disconnected
    status = venue.client.get(f"/api/v1/accounts/{venue.account.pk}/broker").json()
    assert status["status"] == "disconnected", status
    assert_nothing_lost_or_doubled(venue)
