"""The quote publisher of a process with a network channel layer (Redis in production): sends
and trailing flushes on its own loop thread, drained and closed when it is replaced."""

from __future__ import annotations

import threading
import time

import pytest

from marketdata.push import quote_publisher, quotes_group, reset_quote_publisher
from tests.marketdata.recording_layer import BACKEND, RECORDING
from tests.polling import wait_for


@pytest.fixture
def recording_layer(settings):
    RECORDING.clear()
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": BACKEND}}
    settings.OMS_QUOTE_PUSH_INTERVAL = 0.1
    yield RECORDING
    reset_quote_publisher()  # before the setting reverts: the publisher is built from it
    RECORDING.clear()


def test_a_burst_goes_out_on_the_loop_thread_first_and_newest_quote_last(recording_layer):
    # given the process's quote publisher over a network layer
    publisher = quote_publisher()
    # when a burst of three ACME quotes arrives within the interval
    for last in ("10", "11", "12"):
        publisher.publish("ACME", {"symbol": "ACME", "last": last})
    # then the first goes out at once and the trailing flush delivers the newest, both sent
    # from the publisher's loop thread, never from the caller's
    wait_for(lambda: len(recording_layer.sent) == 2)
    time.sleep(0.2)  # nothing else follows
    assert [(group, data["last"]) for group, data, _ in recording_layer.sent] == [
        (quotes_group("ACME"), "10"),
        (quotes_group("ACME"), "12"),
    ]
    assert {thread for _, _, thread in recording_layer.sent} == {"quote-push"}
    assert publisher.coalesced == 2


def test_resetting_the_publisher_drains_closes_its_layer_and_ends_its_thread(recording_layer):
    # given a publisher that has sent a quote
    quote_publisher().publish("ACME", {"symbol": "ACME", "last": "10"})
    assert any(t.name == "quote-push" for t in threading.enumerate())
    # when it is reset (tests; settings changes)
    reset_quote_publisher()
    # then the quote was delivered, its layer closed on its loop, and its thread is gone
    assert [data["last"] for _, data, _ in recording_layer.sent] == ["10"]
    assert recording_layer.closed == ["quote-push"]
    assert not any(t.name == "quote-push" for t in threading.enumerate())
