"""Django's Redis cache with one connection pool and one client per process.

Django keeps a cache object per async context, and under ASGI every request is its own
context: the stock backend built a new connection pool — and a new Redis connection — for
each request, and a new `redis.Redis` client (whose constructor fills a table of ~170
response callbacks) for every single cache call. Pools and clients live here instead, keyed
by server URL; redis-py clients and pools are thread-safe and a pool resets itself in a
forked child.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_clients: dict[str, Any] = {}
_clients_guard = threading.Lock()


class SharedPoolRedisCacheClient(RedisCacheClient):
    def get_client(self, key: object = None, *, write: bool = False) -> Any:
        server = self._servers[self._get_connection_pool_index(write)]
        client = _clients.get(server)
        if client is None:
            with _clients_guard:
                client = _clients.get(server)
                if client is None:
                    pool = self._pool_class.from_url(server, **self._pool_options)
                    client = _clients[server] = self._client(connection_pool=pool)
        return client


class SharedPoolRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedPoolRedisCacheClient

    def count_and_read(self, key: str, *, also: str, timeout: int) -> tuple[int, int]:
        """Add one to the counter `key` (made at 1 if missing, kept `timeout` seconds) and
        read the counter `also`, in one round trip: (key's new count, also's count)."""
        counted = self.make_and_validate_key(key)
        client = self._cache.get_client(counted, write=True)
        pipe = client.pipeline(transaction=False)
        pipe.incr(counted)
        pipe.expire(counted, timeout)
        pipe.get(self.make_and_validate_key(also))
        count, _, other = pipe.execute()
        return int(count), int(other or 0)
