"""The per-symbol coalescing throttle of the live quote push."""

from __future__ import annotations

import pytest

from marketdata.push import QuotePublisher, quote_message, quotes_group
from marketdata.throttle import CoalescingThrottle


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_publisher(clock):
    sent, scheduled = [], []
    publisher = QuotePublisher(
        send=lambda group, message: sent.append((group, message["data"]["last"])),
        min_interval=0.1,
        schedule=lambda delay, fn: scheduled.append((delay, fn)),
        clock=clock,
    )
    return publisher, sent, scheduled


def test_the_first_value_goes_at_once_and_a_burst_is_coalesced_to_its_newest():
    throttle = CoalescingThrottle(0.1)
    assert throttle.offer("ACME", 1, now=0.0)
    # a burst within the interval is held, newest wins
    assert not throttle.offer("ACME", 2, now=0.01)
    assert not throttle.offer("ACME", 3, now=0.02)
    assert throttle.due(now=0.05) == []
    assert throttle.due(now=0.1) == [("ACME", 3)]
    assert throttle.pending_count() == 0


def test_symbols_are_throttled_independently():
    throttle = CoalescingThrottle(0.1)
    assert throttle.offer("ACME", 1, now=0.0)
    assert throttle.offer("GLOBEX", 1, now=0.01)
    assert not throttle.offer("ACME", 2, now=0.02)


def test_a_burst_of_1000_quotes_in_a_second_sends_at_most_about_10_and_ends_on_the_last():
    # given a publisher throttled to 0.1 s and a fake clock
    clock = FakeClock()
    publisher, sent, scheduled = make_publisher(clock)
    # when 1000 quotes arrive over one second, with due flushes run as a timer would
    for i in range(1000):
        clock.now = 1000.0 + i / 1000
        publisher.publish("ACME", {"last": i})
        while scheduled and scheduled[0][0] <= 0:
            scheduled.pop(0)[1]()
    # then the trailing flush delivers the final quote
    clock.now += 0.2
    while scheduled:
        scheduled.pop(0)[1]()
    assert 9 <= len(sent) <= 12
    assert sent[-1] == ("quotes.ACME", 999)
    assert [last for _, last in sent] == sorted(last for _, last in sent)  # never backwards


def test_a_held_quote_is_delivered_even_when_no_further_tick_arrives():
    clock = FakeClock()
    publisher, sent, scheduled = make_publisher(clock)
    publisher.publish("ACME", {"last": 1})
    publisher.publish("ACME", {"last": 2})  # held
    assert sent == [("quotes.ACME", 1)]
    assert len(scheduled) == 1
    delay, flush = scheduled.pop()
    assert 0 < delay == pytest.approx(0.1)
    clock.now += delay
    flush()
    assert sent == [("quotes.ACME", 1), ("quotes.ACME", 2)]


def test_the_message_matches_the_stream_consumer_contract():
    message = quote_message("ACME", {"last": "1"})
    assert message["type"] == "stream.event"
    assert message["channel"] == "quotes:ACME"
    assert message["kind"] == "quotes" and message["symbol"] == "ACME"
    assert message["via"] == "quotes.ACME" == quotes_group("ACME")
    # a symbol with characters group names do not allow still gets a valid group
    assert quotes_group("M&M").startswith("quotes._")
