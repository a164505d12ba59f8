"""Lower layers that may not import notifications build stream messages themselves
(marketdata quotes, execution order-book depth). They must match what publish() builds and
what the consumer accepts, or browsers silently get nothing."""

from __future__ import annotations

import pytest

from notifications.services import build_envelopes
from notifications.stream import StreamAccess, event_visible, market_group, parse_channel

SYMBOLS = ["ACME", "BAJAJ-AUTO", "BRK.B", "M&M", "NIFTY 50", "ÄPFEL", "x" * 64]
ANYONE = StreamAccess(user_id="u", sees_all_accounts=False, account_ids=frozenset())


def _mirrors_publish(group: str, message: dict, *, channel: str, data: dict) -> None:
    [(expected_group, expected)] = build_envelopes(
        channel=channel, event=message["event"], data=data, account_id=None, user_id=None
    )
    assert group == expected_group
    for key, value in expected.items():
        assert message[key] == value, key
    assert event_visible(parse_channel(channel), message, ANYONE)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_marketdata_quote_messages_match_the_stream_contract(symbol):
    from marketdata import push

    data = {"symbol": symbol, "last": "10.5"}
    group = push.quotes_group(symbol)
    assert group == market_group(kind="quotes", symbol=symbol)
    _mirrors_publish(group, push.quote_message(symbol, data), channel=f"quotes:{symbol}", data=data)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_execution_book_messages_match_the_stream_contract(symbol):
    from execution.exchange import depth

    data = {"symbol": symbol, "bids": [], "asks": []}
    group = depth.book_group(symbol)
    assert group == market_group(kind="book", symbol=symbol)
    _mirrors_publish(group, depth.book_message(symbol, data), channel=f"book:{symbol}", data=data)
