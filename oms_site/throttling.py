"""API rate limits (429 `rate_limited`) at a constant cost per request.

DRF's throttles keep the time of every request of the last period in one cache entry and
read and write it whole on every request: at the default user rate (6,000/min) that is a
6,000-element list — ~50 KB pickled through Redis, and an O(n) insert — per API call. These
keep two counters instead, this fixed window's and the previous one's, and estimate the
sliding window the usual way: the previous window's count weighted by the part of it still
inside the sliding window, plus the current count. One read of two keys and one increment
per request — on Redis one round trip: the request is counted and the previous window read
together, and taken back if it is refused. Same scopes and rates as DRF's (`user`, `anon`
in DEFAULT_THROTTLE_RATES).
"""

from __future__ import annotations

from typing import Any

from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class SlidingWindowCounterMixin:
    """For a SimpleRateThrottle subclass: replaces the request log by two window counters."""

    # Set by SimpleRateThrottle: rate, num_requests, duration, cache, timer, get_cache_key.
    _retry_after: float = 0.0

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        current, previous = f"{self.key}:w{window}", f"{self.key}:w{window - 1}"
        into = (now - window * self.duration) / self.duration  # 0 <= into < 1
        count_and_read = getattr(self.cache, "count_and_read", None)
        if count_and_read is not None:  # Redis: count this request and read, one round trip
            count, before = count_and_read(current, also=previous, timeout=2 * self.duration)
            if before * (1 - into) + count > self.num_requests:
                self.cache.decr(current)  # refused: it does not count
                self._retry_after = (1 - into) * self.duration
                return False
            return True
        counts = self.cache.get_many([current, previous])
        estimate = counts.get(previous, 0) * (1 - into) + counts.get(current, 0)
        if estimate + 1 > self.num_requests:  # admitted only if the estimate stays within
            # Conservative: by the end of this window the previous one no longer counts.
            self._retry_after = (1 - into) * self.duration
            return False
        try:
            self.cache.incr(current)
        except ValueError:  # the window's first request (or its key expired): create it
            # Kept two windows: the next window still reads this one as its previous.
            if not self.cache.add(current, 1, timeout=2 * self.duration):
                self.cache.incr(current)  # another request created it meanwhile
        return True

    def wait(self) -> float | None:
        return self._retry_after


class UserSlidingWindowThrottle(SlidingWindowCounterMixin, UserRateThrottle):
    pass


class AnonSlidingWindowThrottle(SlidingWindowCounterMixin, AnonRateThrottle):
    pass
