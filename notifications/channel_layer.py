"""The Redis channel layer under the live stream: channels-redis, with its Redis connections
bounded and its read timeout matched to its own blocking read.

Why not the stock `channels_redis.core.RedisChannelLayer` as configured by a URL:
- Its receive is a `BZPOPMIN` that blocks on the server for `brpop_timeout` (5 s), read
  with redis-py's default socket timeout — also 5 s. On an idle stream the two race: the
  client gives up reading just as the server answers, raises "Timeout reading from redis",
  and the consumer dies without a close frame. The socket timeout here is the blocking
  time plus a margin, so a blocking read always ends on the server's side first; a read
  that outlasts that is a real failure and is raised, never retried.
- Its pool is redis-py's `ConnectionPool` (100 connections), which raises
  `MaxConnectionsError` instead of waiting once every connection is busy, and a consumer
  joining groups one command each used one connection per group. Here the pool is a
  `BlockingConnectionPool` (`pool_size` connections; a caller waits up to `pool_wait`
  seconds for one), and `group_add_many` / `group_discard_many` join or leave any number
  of groups in one pipelined round trip on one connection per Redis shard.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from channels_redis.core import RedisChannelLayer
from redis import asyncio as aioredis

logger = logging.getLogger(__name__)

# How much longer than the server's blocking time a read may take before it is a failure.
READ_MARGIN_SECS = 5.0
CONNECT_TIMEOUT_SECS = 5.0
STAMP_STEP_SECS = 1e-6  # above a float's resolution at today's Unix time (~2.4e-7)
DRAIN_BATCH = 1000  # messages taken per extra round trip after a blocking receive

# channels-redis's group_send script: add the message to each member channel under capacity.
_GROUP_SEND_LUA = """
    local over_capacity = 0
    local current_time = ARGV[#ARGV - 1]
    local expiry = ARGV[#ARGV]
    for i=1,#KEYS do
        if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
            redis.call('ZADD', KEYS[i], current_time, ARGV[i])
            redis.call('EXPIRE', KEYS[i], expiry)
        else
            over_capacity = over_capacity + 1
        end
    end
    return over_capacity
"""


class BoundedRedisChannelLayer(RedisChannelLayer):
    def __init__(self, *, pool_size: int = 50, pool_wait: float = 10.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if pool_size < 2:
            # One connection sits in the blocking receive; sends need another.
            raise ValueError("pool_size must be at least 2.")
        self.pool_size = pool_size
        self.pool_wait = pool_wait

    def create_pool(self, index: int) -> aioredis.BlockingConnectionPool:
        host = dict(self.hosts[index])
        address = host.pop("address", None)
        if address is None:
            raise ValueError("BoundedRedisChannelLayer takes its hosts as redis:// URLs.")
        host.setdefault("socket_timeout", self.brpop_timeout + READ_MARGIN_SECS)
        host.setdefault("socket_connect_timeout", CONNECT_TIMEOUT_SECS)
        return aioredis.BlockingConnectionPool.from_url(
            address, max_connections=self.pool_size, timeout=self.pool_wait, **host
        )

    def _groups_by_shard(self, groups: Iterable[str], channel: str) -> dict[int, list[bytes]]:
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        by_shard: dict[int, list[bytes]] = defaultdict(list)
        for group in groups:
            assert self.require_valid_group_name(group), "Group name not valid"
            by_shard[self.consistent_hash(group)].append(self._group_key(group))
        return by_shard

        # --- sending many messages in one go ----------------------------------------------

    async def group_send_many(self, envelopes: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """`group_send` for each (group, message), in order, in two round trips per shard
        instead of four per message: a burst of execution reports publishes hundreds."""
        if not envelopes:
            return
        now = time.time()
        groups = list(dict.fromkeys(group for group, _ in envelopes))
        members: dict[str, list[str]] = {}
        for index, shard_groups in _by_index(groups, self.consistent_hash).items():
            pipe = self.connection(index).pipeline(transaction=False)
            for group in shard_groups:
                key = self._group_key(group)
                pipe.zremrangebyscore(key, min=0, max=int(now) - self.group_expiry)
                pipe.zrange(key, 0, -1)
            replies = await pipe.execute()
            for group, names in zip(shard_groups, replies[1::2], strict=True):
                members[group] = [name.decode("utf8") for name in names]
        per_connection: dict[int, list[tuple[list[bytes], list[Any]]]] = defaultdict(list)
        stamp = now
        for group, message in envelopes:
            # A channel's queue is a sorted set scored by time: each message a later score
            # than the one before, or equal scores would deliver them in random order.
            stamp = max(time.time(), stamp + STAMP_STEP_SECS)
            assert self.require_valid_group_name(group), "Group name not valid"
            by_connection, key_messages, key_capacities = self._map_channel_keys_to_connection(
                members[group], message
            )
            for index, keys in by_connection.items():
                args = [key_messages[key] for key in keys] + [key_capacities[key] for key in keys]
                per_connection[index].append((keys, [*args, stamp, self.expiry]))
        expired_before = int(now) - int(self.expiry)
        for index, calls in per_connection.items():
            pipe = self.connection(index).pipeline(transaction=False)
            for keys in dict.fromkeys(key for call_keys, _ in calls for key in call_keys):
                pipe.zremrangebyscore(keys, min=0, max=expired_before)
            for keys, args in calls:
                pipe.eval(_GROUP_SEND_LUA, len(keys), *keys, *args)
            await pipe.execute()

    # --- receiving: drain what is waiting ----------------------------------------------

    async def receive_single(self, channel: str) -> tuple[Any, dict[str, Any]]:
        """As channels-redis (one blocking pop, kept in its backup queue until handled),
        then, for this process's channel, every message already waiting behind it in one
        more round trip: a burst costs a few round trips instead of four per message."""
        first = await super().receive_single(channel)
        if "!" not in channel:
            return first
        drain = asyncio.ensure_future(self._pop_waiting(channel))
        try:
            # Shielded: once sent, the pop takes its messages out of Redis; they must reach
            # the buffers even if the consumer that happened to receive is going away.
            waiting = await asyncio.shield(drain)
        except asyncio.CancelledError:
            self._buffer(*first)
            drain.add_done_callback(self._buffer_drained)
            raise
        # After the caller has buffered `first` (it does so before its next await): in order.
        asyncio.get_running_loop().call_soon(self._buffer_all, waiting)
        return first

    async def _pop_waiting(self, channel: str) -> list[tuple[Any, dict[str, Any]]]:
        connection = self.connection(self.consistent_hash(channel))
        popped = await connection.zpopmin(self.prefix + channel, DRAIN_BATCH)
        out = []
        for content, _score in popped:
            message = self.deserialize(content)
            out.append((message.pop("__asgi_channel__", channel), message))
        return out

    def _buffer(self, targets: Any, message: dict[str, Any]) -> None:
        for target in targets if isinstance(targets, list) else [targets]:
            self.receive_buffer[target].put_nowait(message)

    def _buffer_all(self, waiting: list[tuple[Any, dict[str, Any]]]) -> None:
        for targets, message in waiting:
            self._buffer(targets, message)

    def _buffer_drained(self, drain: asyncio.Future) -> None:
        if drain.cancelled():
            return
        if drain.exception() is not None:
            logger.warning("Channel layer: draining waiting messages failed: %s", drain.exception())
            return
        self._buffer_all(drain.result())

    async def group_add_many(self, groups: Iterable[str], channel: str) -> None:
        """`group_add` for every group, one round trip per shard."""
        now = time.time()
        for index, keys in self._groups_by_shard(groups, channel).items():
            pipe = self.connection(index).pipeline(transaction=False)
            for key in keys:
                pipe.zadd(key, {channel: now})
                pipe.expire(key, self.group_expiry)
            await pipe.execute()

    async def group_discard_many(self, groups: Iterable[str], channel: str) -> None:
        """`group_discard` for every group, one round trip per shard."""
        for index, keys in self._groups_by_shard(groups, channel).items():
            pipe = self.connection(index).pipeline(transaction=False)
            for key in keys:
                pipe.zrem(key, channel)
            await pipe.execute()


def _by_index(groups: Sequence[str], index_of: Any) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    for group in groups:
        out[index_of(group)].append(group)
    return out


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
