"""The Redis channel layer under the live stream (notifications/channel_layer.py).

Redis only: these are properties of the Redis layer itself (its socket timeout, its pool,
its batched sends); the in-memory layer has neither sockets nor pools.
"""

from __future__ import annotations

import asyncio
import os

import pytest
import pytest_asyncio
from django.conf import settings

from notifications.channel_layer import BoundedRedisChannelLayer

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a Redis layer)"),
]


@pytest_asyncio.fixture
async def make_layer():
    layers: list[BoundedRedisChannelLayer] = []

    def _make(**overrides) -> BoundedRedisChannelLayer:
        config = {**settings.CHANNEL_LAYERS["default"]["CONFIG"], **overrides}
        layer = BoundedRedisChannelLayer(**config)
        layer.prefix = "asgi-test-layer"
        layers.append(layer)
        return layer

    yield _make
    for layer in layers:
        await layer.flush()


async def test_a_receive_idle_longer_than_the_blocking_read_keeps_waiting(make_layer):
    # given a channel with nothing for longer than one blocking pop (5 s)
    layer = make_layer()
    channel = await layer.new_channel()
    receiving = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(layer.brpop_timeout + 1.5)

    # then the receive is still waiting (no read timeout), and gets what comes next
    assert not receiving.done()
    await layer.send(channel, {"type": "hello"})
    assert (await asyncio.wait_for(receiving, 5))["type"] == "hello"


async def test_many_streams_joining_groups_at_once_fit_a_small_pool(make_layer):
    # given a pool of 4 connections and 300 streams joining 40 groups each at the same time
    layer = make_layer(pool_size=4)
    channels = [await layer.new_channel() for _ in range(300)]
    groups = [f"acct.{n}.orders" for n in range(40)]

    # when they all join at once, then none fails for want of a connection
    await asyncio.gather(*(layer.group_add_many(groups, channel) for channel in channels))

    # and a message to a group reaches every member
    await layer.group_send_many([("acct.7.orders", {"type": "stream.event", "n": 1})])
    received = await asyncio.gather(
        *(asyncio.wait_for(layer.receive(channel), 10) for channel in channels)
    )
    assert {message["n"] for message in received} == {1}


async def test_a_batch_arrives_in_order_and_leaving_stops_it(make_layer):
    layer = make_layer()
    stays, leaves = await layer.new_channel(), await layer.new_channel()
    for channel in (stays, leaves):
        await layer.group_add_many(["a", "b"], channel)
    await layer.group_discard_many(["a", "b"], leaves)

    await layer.group_send_many(
        [("a" if n % 2 else "b", {"type": "stream.event", "n": n}) for n in range(50)]
    )

    assert [(await layer.receive(stays))["n"] for _ in range(50)] == list(range(50))
    nothing = asyncio.ensure_future(layer.receive(leaves))
    await asyncio.sleep(0.3)
    assert not nothing.done()
    nothing.cancel()
