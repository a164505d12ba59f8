"""Kite's published order limits per account, enforced before a request leaves OMS.

10 orders per second, 400 per minute, 5,000 per day (BROKERS.md), as sliding windows per
account: shared in Redis when `REDIS_URL` is set (one Lua script: drop old stamps, count,
add — atomic), so every process of the stack counts the same orders; else in this process.
Not `execution.resilience`'s token bucket: a bucket of 10 refilling at 10/s lets up to 20
orders through within one second, and Kite answers the 11th with 429 — a window never does.
Modifications and cancellations count against the per-second window only. The day window
is the last 24 h (not Kite's calendar day): never more than Kite allows, sometimes less.
A refusal is `BrokerRateLimitedError` (nothing was sent; try again shortly).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from typing import Any

from django.conf import settings

from execution.protocol import BrokerRateLimitedError

# (name, capacity, window in seconds)
ORDER_WINDOWS = (("s", 10, 1.0), ("m", 400, 60.0), ("d", 5000, 86400.0))
_WORDS = {"s": "10 orders a second", "m": "400 orders a minute", "d": "5,000 orders a day"}


class SlidingWindow:
    """At most `limit` takes in any `seconds`-long window (in this process)."""

    def __init__(self, *, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._stamps: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            while self._stamps and now - self._stamps[0] >= self.seconds:
                self._stamps.popleft()
            if len(self._stamps) >= self.limit:
                return False
            self._stamps.append(now)
            return True


_REDIS_WINDOW_LUA = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
return 1
"""


class RedisSlidingWindow:
    """The same window shared by every process (stamps in a sorted set)."""

    def __init__(self, *, client: Any, key: str, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._key = key
        self._script = client.register_script(_REDIS_WINDOW_LUA)

    def take(self) -> bool:
        member = uuid.uuid4().hex
        args = [time.time(), self.seconds, self.limit, member]
        return bool(int(self._script(keys=[self._key], args=args)))


class KiteOrderLimiter:
    def __init__(self) -> None:
        self._windows: dict[tuple[str, str, str], SlidingWindow | RedisSlidingWindow] = {}
        self._lock = threading.Lock()

    def _window(self, account_id: str, name: str) -> SlidingWindow | RedisSlidingWindow:
        redis_url = settings.REDIS_URL
        key = (redis_url, account_id, name)
        window = self._windows.get(key)
        if window is None:
            limit, seconds = next((c, s) for n, c, s in ORDER_WINDOWS if n == name)
            with self._lock:
                window = self._windows.get(key)
                if window is None:
                    window = self._windows[key] = _make_window(
                        redis_url, f"oms:kite:rl:{account_id}:{name}", limit, seconds
                    )
        return window

    def take(self, *, account_id: str, new_order: bool) -> None:
        """Count the order in each window that applies, or refuse (nothing is sent)."""
        names = [name for name, _, _ in ORDER_WINDOWS] if new_order else ["s"]
        for name in names:
            if not self._window(account_id, name).take():
                raise BrokerRateLimitedError(
                    f"Kite allows {_WORDS[name]} per account; this order was not sent. "
                    "Try again shortly."
                )


_redis_clients: dict[str, Any] = {}


def _make_window(
    redis_url: str, key: str, limit: int, seconds: float
) -> SlidingWindow | RedisSlidingWindow:
    if not redis_url:
        return SlidingWindow(limit=limit, seconds=seconds)
    client = _redis_clients.get(redis_url)
    if client is None:
        import redis

        client = _redis_clients[redis_url] = redis.Redis.from_url(
            redis_url, socket_timeout=2, socket_connect_timeout=2
        )
    return RedisSlidingWindow(client=client, key=key, limit=limit, seconds=seconds)
