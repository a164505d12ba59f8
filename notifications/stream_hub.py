"""The live stream's hub: a process's Redis Pub/Sub subscriber, its streams' mailboxes and
its publishing pool (used by notifications/channel_layer.py, which explains the design).

A server's streams are served by the hub of the server's own event loop (`loop_hub`): the
subscription is read on the loop that writes to the sockets. A reader on a thread of its own
competed with that loop for the GIL: under a burst each of its reads waited for the
interpreter's switch interval (5 ms), and a thousand order pushes queued for seconds.
Channels made outside a server (tests, scripts: `new_channel()` from throwaway loops) and
publishers on other loops use the process's `thread_hub`, whose loop outlives its callers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import threading
import uuid
import weakref
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from channels.exceptions import ChannelFull
from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from oms_site.loop_thread import LoopThread

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECS = 5.0
COMMAND_TIMEOUT_SECS = 10.0  # publishing and subscribing; the subscriber's reads never time out
READ_BATCH = 1000  # subscription messages handled together at most
COALESCED_KINDS = frozenset({"quotes", "book"})  # latest-value snapshots (stream.MARKET_KINDS)


class StreamBehind(ChannelFull):
    """A stream fell more than `capacity` undroppable messages behind."""


class Mailbox:
    __slots__ = ("direct", "error", "groups", "kept", "pending", "queue", "waiter")

    def __init__(self) -> None:
        # A stream served on the hub's own loop may take a message as it is read
        # (`Hub.deliver`): `direct(message)` sends it there and then, or returns False.
        self.direct: Callable[[dict[str, Any]], bool] | None = None
        self.queue: deque[list[Any]] = deque()  # entries [coalescing key | None, message]
        self.pending: dict[str, list[Any]] = {}  # coalescing key → its entry still queued
        self.kept = 0  # queued entries that may not be coalesced
        self.groups: set[str] = set()  # topics
        self.waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future] | None = None
        self.error: BaseException | None = None


class Hub:
    """One subscriber connection and its streams' mailboxes, plus a publishing pool; all
    Redis I/O on the hub's loop. `on_thread`: a loop thread of its own (any caller, any
    loop); otherwise the running loop, the server's, whose streams it serves with no
    thread between the subscription and them."""

    def __init__(
        self, *, url: str, topic_prefix: str, pool_size: int, capacity: int, on_thread: bool
    ) -> None:
        self.url = url
        self.pool_size = pool_size
        self.capacity = capacity
        self.token = uuid.uuid4().hex[:12]
        self.own_topic = f"{topic_prefix}c:{self.token}"  # `send` to one of its channels
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.mailboxes: dict[str, Mailbox] = {}
        self.members: dict[str, set[str]] = {}  # topic → local channels
        self.subscribed: set[str] = set()  # topics subscribed (or being subscribed)
        self.confirming: dict[str, list[asyncio.Future]] = defaultdict(list)  # hub loop
        self.thread = LoopThread(name="oms-stream-hub") if on_thread else None
        # weak: the loop's hub lives in a WeakKeyDictionary keyed by that loop
        self.loop = None if on_thread else weakref.ref(asyncio.get_running_loop())
        self.tasks: set[asyncio.Task] = set()  # fire-and-forget work on a loop hub
        self.client: aioredis.Redis | None = None  # publishing (hub loop)
        self.outbox: list[tuple[Sequence[tuple[str, bytes]], asyncio.Future]] = []
        self.sender: asyncio.Future | None = None
        self.conn: Any = None  # the subscriber connection (hub loop)
        self.reader: asyncio.Task | None = None
        self.connecting: asyncio.Lock | None = None  # hub loop

    # --- any thread -----------------------------------------------------------------

    async def call(self, coroutine: Any) -> Any:
        """Run `coroutine` on the hub's loop and wait for it, from any loop."""
        if self.thread is None:
            if self.loop is None or asyncio.get_running_loop() is not self.loop():
                coroutine.close()
                raise RuntimeError("A stream's channel was used from another event loop.")
            return await coroutine
        return await asyncio.wrap_future(self.thread.future(coroutine))

    def spawn(self, coroutine: Any) -> None:
        """Run `coroutine` on the hub's loop without waiting (failures are logged)."""
        if self.thread is not None:
            self.thread.submit(coroutine)
            return
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self._spawned_done)

    def _spawned_done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("Live stream hub: %r", task.exception())

    def mailbox(self, channel: str) -> Mailbox:
        """Hold `lock`."""
        box = self.mailboxes.get(channel)
        if box is None:
            box = self.mailboxes[channel] = Mailbox()
        return box

    def put(self, box: Mailbox, message: dict[str, Any], woken: dict[Any, list]) -> None:
        """Queue `message` (hold `lock`); a waiting receive is added to `woken`."""
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
            woken[loop].append(future)

    def take(self, box: Mailbox) -> dict[str, Any] | None:
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

    def forget_if_unused(self, channel: str, box: Mailbox) -> None:
        """Drop a mailbox nobody can reach or read any more (hold `lock`)."""
        if (
            not box.groups
            and box.direct is None
            and box.waiter is None
            and not box.queue
            and self.mailboxes.get(channel) is box
        ):
            del self.mailboxes[channel]

    def deliver(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """Hand (topic, message) pairs read together to the local members, in order. Market
        snapshots of one group read together go out once, the newest where the first was:
        when the whole process is behind, it fans out only the latest.

        A stream that is idle (its task waiting, nothing queued) and takes messages
        directly gets them sent there and then, on this loop: no mailbox, no wake-up and no
        task switch per push, which is most of a push's cost at thousands of streams. A
        stream that is busy, or refuses (its subscribe reply or a slow socket in the way),
        gets the message queued behind, as every stream did before."""
        newest = {
            topic: message
            for topic, message in messages
            if message.get("kind") in COALESCED_KINDS and topic != self.own_topic
        }
        woken: dict[Any, list] = defaultdict(list)
        direct: list[tuple[Mailbox, dict[str, Any]]] = []
        with self.lock:
            for topic, message in messages:
                if topic in newest:
                    message = newest.pop(topic, None)
                    if message is None:
                        continue  # went out already, newer, in the first one's place
                if topic == self.own_topic:
                    box = self.mailboxes.get(message.pop("__asgi_channel__", ""))
                    targets = [box] if box is not None else []
                else:
                    targets = [self.mailboxes[ch] for ch in self.members.get(topic, ())]
                for box in targets:
                    if (
                        box.direct is not None
                        and box.waiter is not None
                        and not box.queue
                        and box.error is None
                    ):
                        direct.append((box, message))
                    else:
                        self.put(box, message, woken)
        wake(woken)
        if direct:
            self._send_direct(direct)

    def _send_direct(self, direct: list[tuple[Mailbox, dict[str, Any]]]) -> None:
        woken: dict[Any, list] = defaultdict(list)
        refused: set[int] = set()  # once one is queued, the box's later messages queue too
        for box, message in direct:
            send = box.direct
            if send is not None and id(box) not in refused and send(message):
                continue
            refused.add(id(box))
            with self.lock:
                self.put(box, message, woken)
        wake(woken)

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
        """PUBLISH each (topic, payload), in order. Publishes made on this loop while one
        round trip is out go together in the next (a round of ticks on 50 symbols is one
        pipeline, not 50), one pipeline at a time: they reach Redis in call order."""
        done = asyncio.get_running_loop().create_future()
        self.outbox.append((packets, done))
        if self.sender is None:
            self.sender = asyncio.ensure_future(self._send_outbox())
        await done

    async def _send_outbox(self) -> None:
        try:
            await asyncio.sleep(0)  # publishes of this loop iteration join the first batch
            while self.outbox:
                batch, self.outbox = self.outbox, []
                pipe = self._client().pipeline(transaction=False)
                for packets, _ in batch:
                    for topic, payload in packets:
                        pipe.publish(topic, payload)
                try:
                    await pipe.execute()
                except Exception as exc:  # noqa: BLE001 - handed to each publisher, which reports it
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
        finally:
            self.sender = None

    async def subscribe(self, topics: Iterable[str]) -> None:
        """Subscribe to `topics`; returns once Redis has confirmed each (also those another
        caller asked for a moment ago), so a publish that follows reaches this process."""
        wanted = list(dict.fromkeys(topics))
        if self.conn is None:
            if self.connecting is None:
                self.connecting = asyncio.Lock()
            async with self.connecting:
                if self.conn is None:
                    await self._connect()
                    wanted.insert(0, self.own_topic)
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
                replies = [await conn.read_response(timeout=math.inf)]  # no read timeout
                # Whatever else has arrived meanwhile (the loop was busy): handled together.
                while len(replies) < READ_BATCH and await conn.can_read_destructive():
                    replies.append(await conn.read_response(timeout=math.inf))
                messages = []
                for kind, topic, payload in replies:
                    if kind == b"message":
                        messages.append((topic.decode(), json.loads(payload)))
                    elif kind == b"subscribe":
                        for future in self.confirming.pop(topic.decode(), ()):
                            if not future.done():
                                future.set_result(None)
                if messages:
                    self.deliver(messages)
        except asyncio.CancelledError:
            raise
        except (RedisError, OSError, ValueError) as exc:
            logger.warning("Live stream: the Redis subscription failed: %r", exc)
            self._fail(RedisConnectionError(f"the live stream's Redis subscription failed: {exc}"))
            await conn.disconnect()

    def _fail(self, error: BaseException) -> None:
        """The subscription is gone: every local stream fails; the next join reconnects."""
        woken: dict[Any, list] = defaultdict(list)
        with self.lock:
            for box in self.mailboxes.values():
                box.error = error
                box.groups.clear()
                if box.waiter is not None:
                    loop, future = box.waiter
                    box.waiter = None
                    woken[loop].append(future)
            self.members.clear()
            self.subscribed.clear()
        for futures in self.confirming.values():
            for future in futures:
                if not future.done():
                    future.set_exception(error)
        self.confirming.clear()
        self.conn = None
        self.reader = None
        wake(woken)

    async def reset(self, *, close: bool = False) -> None:
        """Forget every stream and subscription (flush); `close`: the publishing pool too."""
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
        if close and self.client is not None:
            await self.client.aclose(close_connection_pool=True)
            self.client = None


def wake(waiting: dict[Any, list]) -> None:
    """Resolve receivers' futures collected by `Hub.put`, each on its own loop."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    for loop, futures in waiting.items():
        if loop is running:
            _resolve(futures)
            continue
        try:
            loop.call_soon_threadsafe(_resolve, futures)
        except RuntimeError:  # that loop is closed: its receivers are gone
            continue


def _resolve(futures: list[asyncio.Future]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)


_hubs_guard = threading.Lock()
_thread_hubs: dict[tuple[Any, ...], Hub] = {}  # (pid, *config) → hub
_loop_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], Hub]] = (
    weakref.WeakKeyDictionary()
)
_by_token: weakref.WeakValueDictionary[str, Hub] = weakref.WeakValueDictionary()


def _after_fork_in_child() -> None:
    """A forked child (Celery's prefork pool) starts with no hub of its parent's, and with a
    fresh guard: another thread of the parent may have held it at the fork."""
    global _hubs_guard
    _hubs_guard = threading.Lock()
    _thread_hubs.clear()
    _loop_hubs.clear()
    _by_token.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def thread_hub(config: tuple[Any, ...]) -> Hub:
    """The process's hub on a loop thread of its own, for `config` (a forked child gets its
    own): publishing from any loop, and channels made outside a server (tests, tools)."""
    key = (os.getpid(), *config)
    with _hubs_guard:
        hub = _thread_hubs.get(key)
        if hub is None:
            hub = _thread_hubs[key] = _make(config, on_thread=True)
        return hub


def loop_hub(config: tuple[Any, ...], *, create: bool) -> Hub | None:
    """The running loop's hub for `config` (made when `create`): a server's streams."""
    loop = asyncio.get_running_loop()
    with _hubs_guard:
        hubs = _loop_hubs.setdefault(loop, {})
        hub = hubs.get(config)
        if hub is None and create:
            hub = hubs[config] = _make(config, on_thread=False)
        return hub


def forget_loop_hub(config: tuple[Any, ...]) -> Hub | None:
    loop = asyncio.get_running_loop()
    with _hubs_guard:
        hub = _loop_hubs.get(loop, {}).pop(config, None)
        if hub is not None:
            _by_token.pop(hub.token, None)
        return hub


def hub_of(channel: str) -> Hub | None:
    """The hub of this process that made `channel` (None: another process's channel)."""
    token = channel.partition("!")[0].rpartition(".")[2]
    hub = _by_token.get(token)
    return hub if hub is not None and hub.pid == os.getpid() else None


def _make(config: tuple[Any, ...], *, on_thread: bool) -> Hub:
    url, topic_prefix, pool_size, capacity = config
    hub = Hub(
        url=url,
        topic_prefix=topic_prefix,
        pool_size=pool_size,
        capacity=capacity,
        on_thread=on_thread,
    )
    _by_token[hub.token] = hub
    return hub
