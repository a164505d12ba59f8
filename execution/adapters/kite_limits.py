"""Kite's published order limits per account, enforced before a request leaves OMS.

10 orders per second, 400 per minute, 5,000 per day (BROKERS.md). One token bucket per
window and account (`execution.resilience`): in Redis when `REDIS_URL` is set, so every
process of the stack shares them, else in this process. Modifications and cancellations
count against the per-second bucket only. The day bucket refills continuously (5,000 over
24 h) rather than at Kite's midnight reset: never more than Kite allows, sometimes less.
A refusal is `BrokerRateLimitedError` (nothing was sent; try again shortly).
"""

from __future__ import annotations

import threading

from django.conf import settings

from execution.protocol import BrokerRateLimitedError
from execution.resilience import Bucket, RedisTokenBucket, TokenBucket

# (name, capacity, window in seconds)
ORDER_WINDOWS = (("s", 10, 1.0), ("m", 400, 60.0), ("d", 5000, 86400.0))
_WORDS = {"s": "10 orders a second", "m": "400 orders a minute", "d": "5,000 orders a day"}


class KiteOrderLimiter:
    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str, str], Bucket] = {}
        self._lock = threading.Lock()

    def _bucket(self, account_id: str, window: str) -> Bucket:
        redis_url = settings.REDIS_URL
        key = (redis_url, account_id, window)
        bucket = self._buckets.get(key)
        if bucket is None:
            capacity, seconds = next((c, s) for name, c, s in ORDER_WINDOWS if name == window)
            with self._lock:
                bucket = self._buckets.get(key)
                if bucket is None:
                    bucket = self._buckets[key] = _make_bucket(
                        redis_url, f"oms:kite:rl:{account_id}:{window}", capacity, seconds
                    )
        return bucket

    def take(self, *, account_id: str, new_order: bool) -> None:
        """Take a token from each window that applies, or refuse (nothing is sent)."""
        windows = [name for name, _, _ in ORDER_WINDOWS] if new_order else ["s"]
        for window in windows:
            if self._bucket(account_id, window).take() > 0:
                raise BrokerRateLimitedError(
                    f"Kite allows {_WORDS[window]} per account; this order was not sent. "
                    "Try again shortly."
                )

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


_redis_clients: dict[str, object] = {}


def _make_bucket(redis_url: str, key: str, capacity: int, seconds: float) -> Bucket:
    rate = capacity / seconds
    if not redis_url:
        return TokenBucket(rate_per_s=rate, burst=capacity)
    client = _redis_clients.get(redis_url)
    if client is None:
        import redis

        client = _redis_clients[redis_url] = redis.Redis.from_url(
            redis_url, socket_timeout=2, socket_connect_timeout=2
        )
    return RedisTokenBucket(client=client, key=key, rate_per_s=rate, burst=capacity)
