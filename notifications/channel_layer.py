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

import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from channels_redis.core import RedisChannelLayer
from redis import asyncio as aioredis

# How much longer than the server's blocking time a read may take before it is a failure.
READ_MARGIN_SECS = 5.0
CONNECT_TIMEOUT_SECS = 5.0


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
