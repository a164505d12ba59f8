"""The `book:<SYMBOL>` depth push of the internal exchange: throttled per symbol by
marketdata's throttled publisher, the last depth of a burst always delivered."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from execution.exchange import depth
from execution.exchange.depth import depth_payload, depth_publish, reset_book_publisher

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def book(symbol: str, asks: int) -> dict:
    from decimal import Decimal

    levels = [(Decimal(10 + i), Decimal(1), 1) for i in range(asks)]
    return depth_payload(symbol=symbol, bids=[], asks=levels, ts=NOW)


def test_symbols_are_throttled_on_their_own(book_pushes):
    # given ACME just pushed
    depth_publish(symbol="ACME", payload=book("ACME", 1))
    # when ACME changes again and FOO changes for the first time, in the same instant
    depth_publish(symbol="ACME", payload=book("ACME", 2))
    depth_publish(symbol="FOO", payload=book("FOO", 1))
    # then FOO goes out at once, ACME's second depth waits for its interval
    assert [group for group, _ in book_pushes.sent] == ["book.ACME", "book.FOO"]
    book_pushes.advance(0.1)
    assert [len(d["asks"]) for d in book_pushes.depths("ACME")] == [1, 2]


def test_a_held_depth_is_delivered_without_any_further_change(book_pushes):
    depth_publish(symbol="ACME", payload=book("ACME", 1))
    book_pushes.advance(0.05)
    depth_publish(symbol="ACME", payload=book("ACME", 2))
    depth_publish(symbol="ACME", payload=book("ACME", 3))
    # the trailing push is due 0.1 s after the first one, with the newest depth only
    book_pushes.advance(0.049)
    assert len(book_pushes.sent) == 1
    book_pushes.advance(0.001)
    assert [len(d["asks"]) for d in book_pushes.depths()] == [1, 3]


@pytest.fixture
def redis_layer(settings):
    """A process configured for a Redis channel layer (nothing is sent in these tests)."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "notifications.channel_layer.LocalFanoutRedisLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:6379/3"]},
        }
    }
    reset_book_publisher()
    yield settings
    reset_book_publisher()


def test_with_a_redis_layer_book_pushes_are_throttled_by_their_setting(redis_layer):
    assert depth._book_pushes.get().min_interval == pytest.approx(0.1)
    redis_layer.OMS_BOOK_PUSH_INTERVAL = 0.25
    reset_book_publisher()
    assert depth._book_pushes.get().min_interval == pytest.approx(0.25)


def test_with_the_in_memory_layer_book_pushes_go_out_inline(settings):
    # (the in-memory layer cannot take a push from a timer thread; it serves tests only)
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    reset_book_publisher()
    assert depth._book_pushes.get().min_interval == 0
