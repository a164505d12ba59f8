"""The channel layer under the live stream: one Redis Pub/Sub subscriber per process, and
fan-out to that process's streams in memory.

Why not channels-redis: its layer gives every stream its own queue in Redis, so a message to
a group of 1,000 streams is written 1,000 times, popped 1,000 times and decoded 1,000 times,
and every stream's receive runs a lock dance of its own (two futures per message per stream,
a new asyncio.Queue per message). Here:
- `group_send` is one `PUBLISH` of the encoded message to the group's topic, whatever the
  number of members; `group_send_many` pipelines a burst into one round trip. Web processes,
  Celery workers and the feed all publish this way.
- Each process holds ONE subscriber connection (on its own loop thread, `_Hub`), subscribed to
  the topics of the groups that have a member in this process. A message is read and decoded
  once per process and handed to each local member's mailbox (the same dict object: receivers
  treat messages as read-only).
- A mailbox is a deque. Market snapshots (`quotes`, `book`) are coalesced in it: while a
  stream is behind (its earlier messages not yet taken), a newer snapshot of the same symbol
  replaces the one still waiting — latest wins. Everything else (orders, positions,
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
import logging
import math
import os
import threading
import uuid
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer
from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from oms_site.loop_thread import LoopThread

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECS = 5.0
COMMAND_TIMEOUT_SECS = 10.0  # publishing and subscribing; the subscriber's reads never time out
COALESCED_KINDS = frozenset({"quotes", "book"})  # latest-value snapshots (stream.MARKET_KINDS)


class StreamBehind(ChannelFull):
    """A stream fell more than `capacity` undroppable messages behind."""


class _Mailbox:
    __slots__ = ("error", "groups", "kept", "pending", "queue", "waiter")

    def __init__(self) -> None:
        self.queue: deque[list[Any]] = deque()  # entries [coalescing key | None, message]
        self.pending: dict[str, list[Any]] = {}  # coalescing key → its entry still queued
        self.kept = 0  # queued entries that may not be coalesced
        self.groups: set[str] = set()  # topics
        self.waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future] | None = None
        self.error: BaseException | None = None


class _Hub:
    """This process's subscriber and publisher: state shared by every loop of the process,
    Redis I/O on one loop thread of its own."""

    def __init__(self, *, url: str, pool_size: int, capacity: int) -> None:
        self.url = url
        self.pool_size = pool_size
        self.capacity = capacity
        self.token = uuid.uuid4().hex[:12]
        self.lock = threading.Lock()
        self.mailboxes: dict[str, _Mailbox] = {}
        self.members: dict[str, set[str]] = {}  # topic → local channels
        self.subscribed: set[str] = set()  # topics subscribed (or being subscribed)
        self.confirming: dict[str, list[asyncio.Future]] = defaultdict(list)  # hub loop
        self.thread = LoopThread(name="oms-stream-hub")
        self.client: aioredis.Redis | None = None  # publishing (hub loop)
        self.conn: Any = None  # the subscriber connection (hub loop)
        self.reader: asyncio.Task | None = None
        self.connecting: asyncio.Lock | None = None  # hub loop

    # --- any thread -----------------------------------------------------------------

    async def call(self, coroutine: Any) -> Any:
        return await asyncio.wrap_future(self.thread.future(coroutine))

    def mailbox(self, channel: str) -> _Mailbox:
        """Hold `lock`."""
        box = self.mailboxes.get(channel)
        if box is None:
            box = self.mailboxes[channel] = _Mailbox()
        return box

    def put(self, box: _Mailbox, message: dict[str, Any], wake: dict[Any, list]) -> None:
        """Queue `message` (hold `lock`); a waiting receive is added to `wake`."""
        if box.error is not None:
            return
        key = message.get("via") if message.get("kind") in COALESCED_KINDS else None
        if key is not None:
            entry = box.pending.get(key)
            if entry is not None:
                entry[1] = message  # behind: the newer snapshot replaces the waiting one
                return
            entry = [key, message]
            box.pending[key] = entry
        else:
            if box.kept >= self.capacity:
                box.error = StreamBehind(f"more than {self.capacity} messages waiting")
            else:
                box.kept += 1
                entry = [None, message]
        if box.error is None:
            box.queue.append(entry)
        if box.waiter is not None:
            loop, future = box.waiter
            box.waiter = None
            wake[loop].append(future)

    def take(self, box: _Mailbox) -> dict[str, Any] | None:
        """The next message, or None (hold `lock`); raises the mailbox's error."""
        if box.queue:
            key, message = box.queue.popleft()
            if key is None:
                box.kept -= 1
            else:
                del box.pending[key]
            return message
        if box.error is not None:
            raise box.error
        return None

    def forget_if_unused(self, channel: str, box: _Mailbox) -> None:
        """Drop a mailbox nobody can reach or read any more (hold `lock`)."""
        if (
            not box.groups
            and box.waiter is None
            and not box.queue
            and self.mailboxes.get(channel) is box
        ):
            del self.mailboxes[channel]

    def deliver(self, topic: str, message: dict[str, Any]) -> None:
        wake: dict[Any, list] = defaultdict(list)
        with self.lock:
            if topic.endswith(":c:" + self.token):
                box = self.mailboxes.get(message.pop("__asgi_channel__", ""))
                targets = [box] if box is not None else []
            else:
                targets = [self.mailboxes[ch] for ch in self.members.get(topic, ())]
            for box in targets:
                self.put(box, message, wake)
        _wake(wake)

    # --- the hub loop ---------------------------------------------------------------

    def _client(self) -> aioredis.Redis:
        if self.client is None:
            pool = aioredis.BlockingConnectionPool.from_url(
                self.url,
                max_connections=self.pool_size,
                timeout=COMMAND_TIMEOUT_SECS,
                socket_timeout=COMMAND_TIMEOUT_SECS,
                socket_connect_timeout=CONNECT_TIMEOUT_SECS,
            )
            self.client = aioredis.Redis(connection_pool=pool)
        return self.client

    async def publish(self, packets: Sequence[tuple[str, bytes]]) -> None:
        pipe = self._client().pipeline(transaction=False)
        for topic, payload in packets:
            pipe.publish(topic, payload)
        await pipe.execute()

    async def subscribe(self, topics: Iterable[str], own_topic: str) -> None:
        """Subscribe to `topics`; returns once Redis has confirmed each (also those another
        caller asked for a moment ago), so a publish that follows reaches this process."""
        wanted = list(dict.fromkeys(topics))
        if self.conn is None:
            if self.connecting is None:
                self.connecting = asyncio.Lock()
            async with self.connecting:
                if self.conn is None:
                    await self._connect()
                    wanted.insert(0, own_topic)
        with self.lock:
            new = [topic for topic in wanted if topic not in self.subscribed]
            self.subscribed.update(new)
        loop = asyncio.get_running_loop()
        confirmed = []
        for topic in wanted:
            if topic in new or topic in self.confirming:
                future = loop.create_future()
                self.confirming[topic].append(future)
                confirmed.append(future)
        if new:
            await self.conn.send_packed_command(
                self.conn.pack_command("SUBSCRIBE", *new), check_health=False
            )
        try:
            await asyncio.wait_for(asyncio.gather(*confirmed), COMMAND_TIMEOUT_SECS)
        except TimeoutError as exc:
            raise RedisTimeoutError("Redis did not confirm a subscription") from exc

    async def unsubscribe(self, topics: Iterable[str]) -> None:
        with self.lock:
            gone = [t for t in topics if t in self.subscribed and not self.members.get(t)]
            self.subscribed.difference_update(gone)
        if gone and self.conn is not None:
            await self.conn.send_packed_command(
                self.conn.pack_command("UNSUBSCRIBE", *gone), check_health=False
            )

    async def _connect(self) -> None:
        pool = aioredis.ConnectionPool.from_url(
            self.url,
            socket_timeout=None,  # an idle subscription reads forever; keepalive finds a dead peer
            socket_connect_timeout=CONNECT_TIMEOUT_SECS,
            socket_keepalive=True,
            protocol=2,  # Pub/Sub messages as plain replies (RESP3 would make them pushes)
            client_name=f"oms-stream-{self.token}",  # CLIENT LIST tells whose it is
        )
        conn = pool.make_connection()
        await conn.connect()
        self.conn = conn
        self.reader = asyncio.ensure_future(self._read(conn))

    async def _read(self, conn: Any) -> None:
        try:
            while True:
                reply = await conn.read_response(timeout=math.inf)  # no read timeout
                kind, topic = reply[0], reply[1].decode()
                if kind == b"message":
                    self.deliver(topic, json.loads(reply[2]))
                elif kind == b"subscribe":
                    for future in self.confirming.pop(topic, ()):
                        if not future.done():
                            future.set_result(None)
        except asyncio.CancelledError:
            raise
        except (RedisError, OSError, ValueError) as exc:
            logger.warning("Live stream: the Redis subscription failed: %r", exc)
            self._fail(RedisConnectionError(f"the live stream's Redis subscription failed: {exc}"))
            await conn.disconnect()

    def _fail(self, error: BaseException) -> None:
        """The subscription is gone: every local stream fails; the next join reconnects."""
        wake: dict[Any, list] = defaultdict(list)
        with self.lock:
            for box in self.mailboxes.values():
                box.error = error
                box.groups.clear()
                if box.waiter is not None:
                    loop, future = box.waiter
                    box.waiter = None
                    wake[loop].append(future)
            self.members.clear()
            self.subscribed.clear()
        for futures in self.confirming.values():
            for future in futures:
                if not future.done():
                    future.set_exception(error)
        self.confirming.clear()
        self.conn = None
        self.reader = None
        _wake(wake)

    async def reset(self) -> None:
        """Forget every stream and subscription (flush)."""
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)
        if self.conn is not None:
            await self.conn.disconnect()
        self.conn = self.reader = None
        self.confirming.clear()
        with self.lock:
            for box in self.mailboxes.values():
                box.queue.clear()
                box.pending.clear()
                box.kept = 0
                box.groups.clear()
            self.members.clear()
            self.subscribed.clear()


def _wake(wake: dict[Any, list]) -> None:
    for loop, futures in wake.items():
        try:
            loop.call_soon_threadsafe(_resolve, futures)
        except RuntimeError:  # that loop is closed: its receivers are gone
            continue


def _resolve(futures: list[asyncio.Future]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)


_hubs: dict[tuple[int, str, int, int], _Hub] = {}
_hubs_guard = threading.Lock()


def _process_hub(url: str, *, pool_size: int, capacity: int) -> _Hub:
    """One hub per process and configuration (a forked child gets its own)."""
    key = (os.getpid(), url, pool_size, capacity)
    with _hubs_guard:
        hub = _hubs.get(key)
        if hub is None:
            hub = _hubs[key] = _Hub(url=url, pool_size=pool_size, capacity=capacity)
        return hub


class LocalFanoutRedisLayer(BaseChannelLayer):
    """Channels layer: Redis Pub/Sub between processes, fan-out in memory within one."""

    extensions = ["groups", "flush"]

    def __init__(
        self,
        *,
        hosts: Sequence[str],
        prefix: str = "oms-stream",
        capacity: int = 2000,
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
        self.pool_size = pool_size

    @property
    def hub(self) -> _Hub:
        return _process_hub(self.url, pool_size=self.pool_size, capacity=self.capacity)

    def _topic(self, group: str) -> str:
        return f"{self.topic_prefix}g:{group}"

    def _own_topic(self, hub: _Hub) -> str:
        return f"{self.topic_prefix}c:{hub.token}"

    # --- channels -------------------------------------------------------------------

    async def new_channel(self, prefix: str = "specific") -> str:
        return f"{prefix}.{self.hub.token}!{uuid.uuid4().hex}"

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "message is not a dict"
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        hub = self.hub
        token = channel.partition("!")[0].rpartition(".")[2]
        if token == hub.token:
            wake: dict[Any, list] = defaultdict(list)
            with hub.lock:
                hub.put(hub.mailbox(channel), message, wake)
            _wake(wake)
            return
        payload = json.dumps({**message, "__asgi_channel__": channel}).encode()
        await hub.call(hub.publish([(f"{self.topic_prefix}c:{token}", payload)]))

    async def receive(self, channel: str) -> dict[str, Any]:
        return (await self._receive(channel, many=False))[0]

    async def receive_many(self, channel: str) -> list[dict[str, Any]]:
        """Every message waiting for `channel`, in order (waits for at least one): a stream
        that was behind takes its backlog in one go."""
        return await self._receive(channel, many=True)

    async def _receive(self, channel: str, *, many: bool) -> list[dict[str, Any]]:
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        hub = self.hub
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
        hub = self.hub
        with hub.lock:
            box = hub.mailbox(channel)
            for topic in topics:
                hub.members.setdefault(topic, set()).add(channel)
                box.groups.add(topic)
        if topics:
            await hub.call(hub.subscribe(topics, self._own_topic(hub)))

    async def group_discard_many(self, groups: Iterable[str], channel: str) -> None:
        hub = self.hub
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
            hub.thread.submit(hub.unsubscribe(emptied))

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self.group_send_many([(group, message)])

    async def group_send_many(self, envelopes: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """`group_send` for each (group, message), in order, in one round trip."""
        packets = []
        for group, message in envelopes:
            assert self.require_valid_group_name(group), "Group name not valid"
            packets.append((self._topic(group), json.dumps(message).encode()))
        if packets:
            hub = self.hub
            await hub.call(hub.publish(packets))

    async def flush(self) -> None:
        hub = self.hub
        await hub.call(hub.reset())

    async def close_pools(self) -> None:
        """Nothing to close per layer: the process's hub is shared and lives with it."""


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
