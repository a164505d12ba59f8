"""A deeply nested frame on /ws/stream/ is answered with a validation error; the socket
stays open and keeps working."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from tests.notifications.stream_helpers import next_message, open_stream, subscribe

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def test_a_5000_deep_subscribe_frame_is_refused_and_the_stream_lives_on(trader, api_key_for):
    key = await database_sync_to_async(api_key_for)(trader)
    async with open_stream(token=key) as ws:
        # when a client sends a subscribe frame nested 5,000 deep
        deep = "[" * 5000 + '"orders"' + "]" * 5000
        await ws.send_to(text_data='{"action": "subscribe", "channels": ' + deep + "}")
        # then it gets an error event with a validation_error code
        error = await next_message(ws)
        assert error["event"] == "error"
        assert error["data"]["code"] == "validation_error"
        # and the same socket still serves a normal subscribe
        assert await subscribe(ws, ["orders"]) == {"channels": ["orders"], "rejected": []}
