"""The channel layer under the live stream: one Redis Pub/Sub subscriber per process, and
fan-out to that process's streams in memory.

Why not channels-redis: its layer gives every stream its own queue in Redis, so a message to
a group of 1,000 streams is written 1,000 times, popped 1,000 times and decoded 1,000 times,
and every stream's receive runs a lock dance of its own (two futures per message per stream,
a new asyncio.Queue per message). Here:
- `group_send` is one `PUBLISH` of the encoded message to the group's topic, whatever the
  number of members; the publishes of one event-loop iteration (`group_send_many`, a round of
  ticks) go in one pipelined round trip, on the caller's own loop. Web processes, Celery
  workers and the feed all publish this way.
- A server process holds ONE subscriber connection, read on the server's own event loop
  (notifications/stream_hub.py), subscribed to the topics of the groups that have a member
  among its streams. A message is read and decoded once per process and handed to each
  local member's mailbox (the same dict object: receivers treat messages as read-only).
- A mailbox is a deque. Market snapshots (`quotes`, `book`) are coalesced in it: while a
  stream is behind (its earlier messages not yet taken), a newer snapshot of the same symbol
  replaces the one still waiting — latest wins (so does the hub for snapshots it reads
  together). Everything else (orders, positions,
  notifications…) is queued in order, never dropped or merged; a stream that lets more than
  `capacity` of those pile up is failed (`StreamBehind`) and closed by its consumer, and its
  client reconnects and catches up (`seq`, GET /api/v1/stream/missed).
- Pub/Sub delivers only to a connected subscriber, so a lost subscriber connection is never
  papered over: every local mailbox fails with the Redis error (its stream closes with 1011;
  clients reconnect and resynchronise) and the next join connects afresh.

Topics are `<prefix><db>:g:<group>` (Pub/Sub ignores the database number, so it is part of
the name: stacks on different Redis dbs stay apart) and `<prefix><db>:c:<process token>` for
`send` to one channel. Messages travel as JSON (stream messages are JSON by construction).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from channels.layers import BaseChannelLayer
from redis import asyncio as aioredis

from notifications.stream_hub import (
    Hub,
    StreamBehind,
    forget_loop_hub,
    hub_of,
    loop_hub,
    thread_hub,
    wake,
)

__all__ = [
    "LocalFanoutRedisLayer",
    "StreamBehind",
    "group_add_many",
    "group_discard_many",
    "group_send_many",
]


class LocalFanoutRedisLayer(BaseChannelLayer):
    """Channels layer: Redis Pub/Sub between processes, fan-out in memory within one."""

    extensions = ["groups", "flush"]

    def __init__(
        self,
        *,
        hosts: Sequence[str],
        prefix: str = "oms-stream",
        capacity: int = 5000,
        pool_size: int = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(capacity=capacity, **kwargs)
        if len(hosts) != 1 or not isinstance(hosts[0], str):
            raise ValueError("LocalFanoutRedisLayer takes one redis:// URL in `hosts`.")
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1.")
        self.url = hosts[0]
        db = aioredis.ConnectionPool.from_url(self.url).connection_kwargs.get("db", 0)
        self.topic_prefix = f"{prefix}{db}:"
        self.config = (self.url, self.topic_prefix, pool_size, capacity)

    def _topic(self, group: str) -> str:
        return f"{self.topic_prefix}g:{group}"

    def _publisher(self) -> Hub:
        """The running loop's hub: publishing never crosses to another thread (the push
        loop, the quote publisher's loop and the server's loop each publish on their own
        connections)."""
        return loop_hub(self.config, create=True)

    @staticmethod
    def _home(channel: str) -> Hub:
        hub = hub_of(channel)
        if hub is None:
            raise ValueError(f"Channel {channel!r} was not made in this process.")
        return hub

    # --- channels -------------------------------------------------------------------

    async def new_channel(self, prefix: str = "specific") -> str:
        """A channel usable from any event loop (tests, scripts)."""
        return f"{prefix}.{thread_hub(self.config).token}!{uuid.uuid4().hex}"

    async def new_local_channel(self, prefix: str = "specific") -> str:
        """A channel served on the running loop, which must outlive it (a server's stream):
        its messages are read from Redis and handed over on this loop."""
        hub = loop_hub(self.config, create=True)
        return f"{prefix}.{hub.token}!{uuid.uuid4().hex}"

    def take_directly(self, channel: str, direct: Callable[[dict[str, Any]], bool] | None) -> None:
        """Let the hub hand `channel`'s messages to `direct` as they are read (None: stop).
        `direct(message)` runs on the server's loop and returns False to have the message
        queued instead; only a channel of `new_local_channel` can take messages directly."""
        hub = self._home(channel)
        if hub.thread is not None:
            return  # read on a thread of its own: messages must cross to their loop
        with hub.lock:
            box = hub.mailbox(channel)
            box.direct = direct
            if direct is None:
                hub.forget_if_unused(channel, box)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "message is not a dict"
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        hub = hub_of(channel)
        if hub is not None:
            woken: dict[Any, list] = defaultdict(list)
            with hub.lock:
                hub.put(hub.mailbox(channel), message, woken)
            wake(woken)
            return
        token = channel.partition("!")[0].rpartition(".")[2]
        payload = json.dumps({**message, "__asgi_channel__": channel}).encode()
        publisher = self._publisher()
        await publisher.call(publisher.publish([(f"{self.topic_prefix}c:{token}", payload)]))

    async def receive(self, channel: str) -> dict[str, Any]:
        return (await self._receive(channel, many=False))[0]

    async def receive_many(self, channel: str) -> list[dict[str, Any]]:
        """Every message waiting for `channel`, in order (waits for at least one): a stream
        that was behind takes its backlog in one go."""
        return await self._receive(channel, many=True)

    async def _receive(self, channel: str, *, many: bool) -> list[dict[str, Any]]:
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        hub = self._home(channel)
        loop = asyncio.get_running_loop()
        with hub.lock:
            box = hub.mailbox(channel)
        future: asyncio.Future | None = None
        try:
            while True:
                with hub.lock:
                    message = hub.take(box)
                    if message is not None:
                        out = [message]
                        while many and box.queue:
                            out.append(hub.take(box))
                        return out
                    future = loop.create_future()
                    box.waiter = (loop, future)
                await future
        finally:
            with hub.lock:
                if box.waiter is not None and box.waiter[1] is future:
                    box.waiter = None
                hub.forget_if_unused(channel, box)

    # --- groups ---------------------------------------------------------------------

    async def group_add(self, group: str, channel: str) -> None:
        await self.group_add_many([group], channel)

    async def group_discard(self, group: str, channel: str) -> None:
        await self.group_discard_many([group], channel)

    async def group_add_many(self, groups: Iterable[str], channel: str) -> None:
        """Join groups; returns once this process is subscribed to all of them."""
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        topics = []
        for group in groups:
            assert self.require_valid_group_name(group), "Group name not valid"
            topics.append(self._topic(group))
        hub = self._home(channel)
        with hub.lock:
            box = hub.mailbox(channel)
            for topic in topics:
                hub.members.setdefault(topic, set()).add(channel)
                box.groups.add(topic)
        if topics:
            await hub.call(hub.subscribe(topics))

    async def group_discard_many(self, groups: Iterable[str], channel: str) -> None:
        hub = hub_of(channel)
        if hub is None:
            return  # not a channel of this process: it is in no group here
        emptied = []
        with hub.lock:
            box = hub.mailboxes.get(channel)
            for group in groups:
                assert self.require_valid_group_name(group), "Group name not valid"
                topic = self._topic(group)
                members = hub.members.get(topic)
                if members is not None and channel in members:
                    members.discard(channel)
                    if not members:
                        del hub.members[topic]
                        emptied.append(topic)
                if box is not None:
                    box.groups.discard(topic)
            if box is not None:
                hub.forget_if_unused(channel, box)
        if emptied:
            hub.spawn(hub.unsubscribe(emptied))

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self.group_send_many([(group, message)])

    async def group_send_many(self, envelopes: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """`group_send` for each (group, message), in order, in one round trip."""
        packets = []
        for group, message in envelopes:
            assert self.require_valid_group_name(group), "Group name not valid"
            packets.append((self._topic(group), json.dumps(message).encode()))
        if packets:
            hub = self._publisher()
            await hub.call(hub.publish(packets))

    async def flush(self) -> None:
        """Forget every stream and subscription of this process (tests, maintenance)."""
        hub = thread_hub(self.config)
        await hub.call(hub.reset())
        local = loop_hub(self.config, create=False)
        if local is not None:
            await local.reset()

    async def close_loop(self) -> None:
        """Close the running loop's hub (a server stopping on a loop that then ends)."""
        hub = forget_loop_hub(self.config)
        if hub is not None:
            await hub.reset(close=True)

    async def close_pools(self) -> None:
        """Nothing to close per layer: the process's thread hub is shared and lives with it."""


async def group_send_many(layer: Any, envelopes: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Send (group, message) pairs in order on any channel layer."""
    batch = getattr(layer, "group_send_many", None)
    if batch is not None:
        await batch(envelopes)
        return
    for group, message in envelopes:
        await layer.group_send(group, message)


async def group_add_many(layer: Any, groups: Iterable[str], channel: str) -> None:
    """Join groups on any channel layer (the in-memory one has no batch form)."""
    batch = getattr(layer, "group_add_many", None)
    if batch is not None:
        await batch(groups, channel)
        return
    for group in groups:
        await layer.group_add(group, channel)


async def group_discard_many(layer: Any, groups: Iterable[str], channel: str) -> None:
    batch = getattr(layer, "group_discard_many", None)
    if batch is not None:
        await batch(groups, channel)
        return
    for group in groups:
        await layer.group_discard(group, channel)
