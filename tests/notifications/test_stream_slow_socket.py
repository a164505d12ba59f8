"""A stream whose socket is full (a slow reader): pushes published meanwhile wait behind the
one in flight and arrive in order once it drains; none is lost, none overtakes another.

With REDIS_URL the server's pushes are sent as they are read (stream_hub.Hub.deliver →
StreamConsumer._push_now), and a push that finds the socket full finishes in the
background; without it (the in-memory layer) every push is queued. Both must keep order.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from notifications.services import publish
from oms_site.asgi import application
from oms_site.embedded_redis import (
    embedded_redis_spec,
    free_tcp_port,
    redis_url_for,
    wait_until_answering,
)
from oms_site.supervisor import Supervisor
from tests.factories import account_with_member
from tests.notifications.stream_helpers import RECEIVE_TIMEOUT, next_message, subscribe

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

publish_async = database_sync_to_async(publish)


class FullSocket:
    """The ASGI app behind a socket that can fill up: while `full`, every frame the server
    sends waits (as uvicorn's send waits for a paused transport to drain). `most_waiting`:
    the most frames waiting at once: the server must hand them over one at a time (frames
    waiting side by side are released in whatever order the server's waits resume)."""

    def __init__(self) -> None:
        self.writable = asyncio.Event()
        self.writable.set()
        self.waiting = 0
        self.most_waiting = 0
        self.closed = False

    async def __call__(self, scope, receive, send) -> None:
        async def send_when_writable(message) -> None:
            if not self.writable.is_set():
                self.waiting += 1
                self.most_waiting = max(self.most_waiting, self.waiting)
                await self.writable.wait()
                self.waiting -= 1
            if self.closed:  # as uvicorn: nothing may follow the close frame
                raise RuntimeError(f"Unexpected ASGI message {message['type']!r} after close.")
            self.closed = message["type"] == "websocket.close"
            await send(message)

        await application(scope, receive, send_when_writable)


async def publish_order_updates(account, *, count: int) -> None:
    """`order.updated` for orders order-0 .. order-<count - 1> of `account`, in that order."""
    for n in range(count):
        await publish_async(
            channel="orders",
            event="order.updated",
            data={"id": f"order-{n}", "account": str(account.pk), "status": "new"},
            account_id=account.pk,
        )


async def open_stream_behind_full_socket(trader, api_key_for):
    """A trader's stream on her account's orders, through a `FullSocket` (still writable);
    → (the account, the socket, the communicator)."""
    account = await database_sync_to_async(account_with_member)(user=trader, role="owner")
    key = await database_sync_to_async(api_key_for)(trader)
    socket = FullSocket()
    ws = WebsocketCommunicator(
        socket,
        "/ws/stream/",
        headers=[(b"host", b"testserver"), (b"authorization", f"Token {key}".encode())],
    )
    connected, _ = await ws.connect(timeout=RECEIVE_TIMEOUT)
    assert connected
    await subscribe(ws, ["orders"])
    return account, socket, ws


async def test_pushes_behind_a_full_socket_arrive_in_order_once_it_drains(trader, api_key_for):
    # given a trader's stream on her account's orders
    account, socket, ws = await open_stream_behind_full_socket(trader, api_key_for)
    try:
        # when her socket fills up and five order updates are published meanwhile
        socket.writable.clear()
        await publish_order_updates(account, count=5)
        for _ in range(100):
            if socket.waiting:
                break
            await asyncio.sleep(0.02)
        assert socket.waiting  # the server is waiting for the socket, not dropping frames
        await asyncio.sleep(0.3)  # the other four reach the server while the socket is full

        # then once it drains she gets all five, in publish order, numbered 1..5
        socket.writable.set()
        got = [await next_message(ws) for _ in range(5)]
        assert [m["data"]["id"] for m in got] == [f"order-{n}" for n in range(5)]
        assert [m["seq"] for m in got] == [1, 2, 3, 4, 5]
        assert socket.most_waiting == 1
        assert await ws.receive_nothing(timeout=0.3)
    finally:
        await ws.disconnect()


@pytest.fixture
def small_backlog_layer(settings, tmp_path):
    """The Redis layer with room for only 3 undroppable pushes per stream: on REDIS_URL's
    Redis when the tests have one, else on an embedded Redis of its own (the embedded
    defaults' in-memory layer has no per-stream backlog to overflow)."""
    from channels.layers import channel_layers

    from notifications.channel_layer import LocalFanoutRedisLayer

    supervisor = None
    if "LocalFanoutRedisLayer" in settings.CHANNEL_LAYERS["default"]["BACKEND"]:
        config = {**settings.CHANNEL_LAYERS["default"]["CONFIG"], "capacity": 3}
    else:
        port = free_tcp_port()
        supervisor = Supervisor(env={}, cwd=tmp_path, out=io.StringIO(), stop_timeout=5)
        (child,) = supervisor.start([embedded_redis_spec(port=port, data_dir=tmp_path)])
        url = redis_url_for(port)
        wait_until_answering(url, alive=child.running)
        config = {"hosts": [url], "capacity": 3}
    previous = channel_layers.backends.get("default")
    layer = channel_layers.backends["default"] = LocalFanoutRedisLayer(**config)
    yield
    async_to_sync(layer.flush)()
    if previous is None:
        channel_layers.backends.pop("default", None)
    else:
        channel_layers.backends["default"] = previous
    if supervisor is not None:
        supervisor.stop_all()


async def test_a_stream_left_too_far_behind_is_closed_1011_without_a_traceback(
    trader, api_key_for, small_backlog_layer, caplog
):
    # given a trader's stream whose socket stays full
    account, socket, ws = await open_stream_behind_full_socket(trader, api_key_for)
    socket.writable.clear()

    # when more order updates are published than its backlog holds
    await publish_order_updates(account, count=8)
    await asyncio.sleep(0.5)
    socket.writable.set()

    # then it gets the first ones in order, then a 1011 close (it reconnects and catches up
    # through `seq`), and the server logs a warning, no error or traceback
    ids = []
    while True:
        output = await ws.receive_output(timeout=RECEIVE_TIMEOUT)
        if output["type"] == "websocket.close":
            break
        message = json.loads(output["text"])
        if message.get("event") != "heartbeat":
            ids.append(message["data"]["id"])
    assert output["code"] == 1011
    assert ids == [f"order-{n}" for n in range(len(ids))] and 1 <= len(ids) < 8
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    await ws.disconnect()
