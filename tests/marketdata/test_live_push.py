"""Ticks pushed through the API reach a WebSocket client subscribed to quotes:<symbol>."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from rest_framework.test import APIClient

from notifications.services import channel_layer_flush
from tests.factories import ApiKeyFactory, UserFactory
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory
from tests.notifications.stream_helpers import next_message, open_stream, subscribe

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    channel_layer_flush()
    yield


@database_sync_to_async
def given_instrument_users_and_keys():
    InstrumentFactory(symbol="ACME", exchange=ExchangeFactory())
    InstrumentFactory(symbol="GLOBEX", exchange=ExchangeFactory())
    watcher = UserFactory(username="watcher", role="viewer")
    feeder = UserFactory(username="feeder", role="admin")
    return ApiKeyFactory.issue(user=watcher).raw_key, ApiKeyFactory.issue(user=feeder).raw_key


def push(key: str, payload) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.post("/api/v1/market-data/ticks", payload, format="json").status_code


async def test_a_pushed_tick_reaches_a_subscribed_websocket_client():
    # given a viewer subscribed to quotes:ACME
    watcher_key, feeder_key = await given_instrument_users_and_keys()
    async with open_stream(token=watcher_key) as stream:
        assert stream is not None
        await subscribe(stream, ["quotes:ACME"])
        # when a feed pushes a GLOBEX tick and then an ACME tick through the API
        status = await sync_to_async(push)(
            feeder_key,
            [
                {"symbol": "GLOBEX", "last": "50"},
                {"symbol": "ACME", "last": "10.50", "bid": "10.45", "ask": "10.55", "volume": 100},
            ],
        )
        assert status == 202
        # then the client receives the ACME quote (and nothing of GLOBEX)
        message = await next_message(stream)
        assert message["channel"] == "quotes:ACME"
        assert message["event"] == "quote"
        data = message["data"]
        assert (data["symbol"], data["last"], data["bid"], data["ask"]) == (
            "ACME",
            "10.5",
            "10.45",
            "10.55",
        )
        assert data["bar"]["close"] == "10.5" and data["bar"]["volume"] == "100"
        assert await stream.receive_nothing(timeout=0.3)
