"""The Redis channel layer under the live stream (notifications/channel_layer.py): one Pub/Sub
subscriber per process, fan-out in memory, market snapshots coalesced for a stream that is
behind, nothing else dropped.

Redis only: these are properties of the Redis layer itself; the in-memory layer has neither
subscriptions nor mailboxes.
"""

from __future__ import annotations

import asyncio
import os

import pytest
import pytest_asyncio
from django.conf import settings
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from notifications.channel_layer import LocalFanoutRedisLayer, StreamBehind
from notifications.stream_hub import hub_of

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a Redis layer)"),
]


@pytest_asyncio.fixture
async def make_layer():
    """A layer as configured; `capacity` other than the setting's gives a hub of its own,
    which stands in for another process."""
    layers: list[LocalFanoutRedisLayer] = []

    def _make(**overrides) -> LocalFanoutRedisLayer:
        config = {**settings.CHANNEL_LAYERS["default"]["CONFIG"], **overrides}
        layer = LocalFanoutRedisLayer(**config)
        layers.append(layer)
        return layer

    yield _make
    for layer in layers:
        await layer.flush()


def quote(n: int, symbol: str = "ACME") -> dict:
    return {"type": "stream.event", "kind": "quotes", "via": f"quotes.{symbol}", "n": n}


def order(n: int) -> dict:
    return {"type": "stream.event", "kind": "orders", "via": "acct.1.orders", "n": n}


async def test_an_idle_receive_keeps_waiting_and_gets_what_comes_next(make_layer):
    # given a stream in a group with nothing for longer than any read timeout (5 s)
    layer = make_layer()
    channel = await layer.new_channel()
    await layer.group_add("acct.1.orders", channel)
    receiving = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(6.5)

    # then the receive is still waiting, and gets the next message
    assert not receiving.done()
    await layer.group_send("acct.1.orders", order(1))
    assert (await asyncio.wait_for(receiving, 5))["n"] == 1


async def test_many_streams_joining_groups_at_once_all_receive_once(make_layer):
    # given a pool of 2 connections and 300 streams joining 40 groups each at the same time
    layer = make_layer(pool_size=2)
    channels = [await layer.new_channel() for _ in range(300)]
    groups = [f"acct.{n}.orders" for n in range(40)]
    await asyncio.gather(*(layer.group_add_many(groups, channel) for channel in channels))

    # when one message goes to one group
    await layer.group_send_many([("acct.7.orders", {"type": "stream.event", "n": 1})])

    # then every member gets it, once
    received = await asyncio.gather(
        *(asyncio.wait_for(layer.receive(channel), 10) for channel in channels)
    )
    assert {message["n"] for message in received} == {1}
    extra = asyncio.ensure_future(layer.receive(channels[0]))
    await asyncio.sleep(0.3)
    assert not extra.done()
    extra.cancel()


async def test_a_message_published_once_reaches_members_in_every_process(make_layer):
    # given members of one group in two processes (two hubs)
    here, there = make_layer(), make_layer(capacity=1999)
    mine, theirs = await here.new_channel(), await there.new_channel()
    await here.group_add("quotes.ACME", mine)
    await there.group_add("quotes.ACME", theirs)

    # when a third party publishes once
    await make_layer(capacity=1998).group_send("quotes.ACME", quote(1))

    # then both receive it
    assert (await asyncio.wait_for(here.receive(mine), 5))["n"] == 1
    assert (await asyncio.wait_for(there.receive(theirs), 5))["n"] == 1


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


async def test_a_stream_behind_gets_the_latest_quote_and_every_order(make_layer):
    # given a stream on a symbol and an account that does not read for a while
    layer = make_layer()
    channel = await layer.new_channel()
    await layer.group_add_many(["quotes.ACME", "quotes.BETA", "acct.1.orders"], channel)

    # when quotes and orders arrive interleaved
    await layer.group_send_many(
        [
            ("quotes.ACME", quote(1)),
            ("acct.1.orders", order(1)),
            ("quotes.BETA", quote(1, "BETA")),
            ("quotes.ACME", quote(2)),
            ("acct.1.orders", order(2)),
            ("quotes.ACME", quote(3)),
        ]
    )
    await asyncio.sleep(0.3)

    # then it reads one quote per symbol, the latest, where the first was waiting, and
    # every order in order
    got = [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(4)]
    assert [(m["via"], m["n"]) for m in got] == [
        ("quotes.ACME", 3),
        ("acct.1.orders", 1),
        ("quotes.BETA", 1),
        ("acct.1.orders", 2),
    ]
    # and a quote after it caught up is delivered again
    await layer.group_send("quotes.ACME", quote(4))
    assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 4


async def test_a_stream_too_far_behind_on_orders_fails_instead_of_losing_one(make_layer):
    # given a stream that may have 3 orders waiting and does not read
    layer = make_layer(capacity=3)
    channel = await layer.new_channel()
    await layer.group_add("acct.1.orders", channel)

    # when a fourth arrives
    await layer.group_send_many([("acct.1.orders", order(n)) for n in range(4)])
    await asyncio.sleep(0.3)

    # then it reads the three it kept, then learns it fell behind
    assert [(await layer.receive(channel))["n"] for _ in range(3)] == [0, 1, 2]
    with pytest.raises(StreamBehind):
        await layer.receive(channel)


async def test_a_lost_subscription_fails_every_stream_of_the_process(make_layer):
    # given a stream waiting on the process's subscription
    layer = make_layer(capacity=1997)
    channel = await layer.new_channel()
    await layer.group_add("acct.1.orders", channel)
    receiving = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0.1)

    # when Redis drops the subscriber's connection
    admin = aioredis.Redis.from_url(layer.url)
    name = f"oms-stream-{hub_of(channel).token}"
    clients = await admin.client_list()
    await admin.client_kill_filter(_id=next(c["id"] for c in clients if c["name"] == name))
    await admin.aclose()

    # then the waiting receive fails (its stream closes and its client catches up)
    with pytest.raises(RedisError):
        await asyncio.wait_for(receiving, 5)

    # and a stream that joins afterwards is served on a fresh subscription
    fresh = await layer.new_channel()
    await layer.group_add("acct.1.orders", fresh)
    await layer.group_send("acct.1.orders", order(9))
    assert (await asyncio.wait_for(layer.receive(fresh), 5))["n"] == 9


async def test_a_servers_stream_is_read_on_its_loop_and_takes_its_backlog_at_once(make_layer):
    # given a stream made on the running loop (as the server makes its streams)
    layer = make_layer()
    channel = await layer.new_local_channel()
    await layer.group_add_many(["acct.1.orders", "quotes.ACME"], channel)

    # when a burst arrives while it is not reading
    await layer.group_send_many([("acct.1.orders", order(n)) for n in range(3)])
    await layer.group_send("quotes.ACME", quote(1))
    await asyncio.sleep(0.3)

    # then one receive takes all of it, in order
    got = await asyncio.wait_for(layer.receive_many(channel), 5)
    assert [(m["via"], m["n"]) for m in got] == [
        ("acct.1.orders", 0),
        ("acct.1.orders", 1),
        ("acct.1.orders", 2),
        ("quotes.ACME", 1),
    ]
    await layer.close_loop()


async def test_an_idle_servers_stream_takes_messages_as_they_are_read(make_layer):
    # given a server's stream, idle (waiting for its next message), taking messages directly
    layer = make_layer()
    channel = await layer.new_local_channel()
    await layer.group_add_many(["acct.1.orders", "quotes.ACME"], channel)
    taken: list[int] = []
    layer.take_directly(channel, lambda message: taken.append(message["n"]) or True)
    receiving = asyncio.ensure_future(layer.receive_many(channel))
    await asyncio.sleep(0.05)

    # when messages are published
    await layer.group_send_many([("acct.1.orders", order(n)) for n in range(3)])
    await layer.group_send("quotes.ACME", quote(3))
    for _ in range(100):
        if len(taken) == 4:
            break
        await asyncio.sleep(0.02)

    # then the taker got each, in order, and nothing was queued for the receive
    assert taken == [0, 1, 2, 3]
    assert not receiving.done()
    receiving.cancel()
    layer.take_directly(channel, None)
    await layer.close_loop()


async def test_a_refused_message_and_every_later_one_queue_in_order(make_layer):
    # given an idle server's stream whose taker refuses the second message (busy)
    layer = make_layer()
    channel = await layer.new_local_channel()
    await layer.group_add("acct.1.orders", channel)
    taken: list[int] = []

    def take(message: dict) -> bool:
        if message["n"] == 1:
            return False
        taken.append(message["n"])
        return True

    layer.take_directly(channel, take)
    receiving = asyncio.ensure_future(layer.receive_many(channel))
    await asyncio.sleep(0.05)

    # when three messages are read together
    await layer.group_send_many([("acct.1.orders", order(n)) for n in range(3)])

    # then the first went directly; the refused one and the one after it are received, in
    # order (the third is not sent ahead of the second)
    got = await asyncio.wait_for(receiving, 5)
    assert taken == [0]
    assert [m["n"] for m in got] == [1, 2]
    layer.take_directly(channel, None)
    await layer.close_loop()


async def test_a_stream_that_stopped_taking_directly_receives_again(make_layer):
    # given a server's stream that took messages directly, then stopped
    layer = make_layer()
    channel = await layer.new_local_channel()
    await layer.group_add("acct.1.orders", channel)
    layer.take_directly(channel, lambda message: pytest.fail("taken after it stopped"))
    layer.take_directly(channel, None)

    # when a message is published
    await layer.group_send("acct.1.orders", order(5))

    # then its receive gets it
    assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 5
    await layer.close_loop()
