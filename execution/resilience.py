"""Per-broker resilience: rate limit, retries with backoff, execution timeout, circuit breaker.

Every call to a broker adapter goes through `ResilientCaller.call`:

1. the circuit breaker is asked first — open: `BrokerUnavailableError` at once, the adapter is
   not called; half-open: exactly one caller (across all processes) sends a probe;
2. a token is taken from the broker's token bucket (waiting up to `rate_limit_wait_s`, then
   `BrokerRateLimitedError`, which does not count against the breaker — nothing was sent);
3. the adapter runs under the execution timeout (`BrokerTimeoutError`, a transient error);
4. only *named* transient errors (`TransientBrokerError` and subclasses) are retried, with
   exponential backoff and jitter, up to `max_attempts`; anything else is raised at once.
   Out of attempts → `BrokerUnavailableError`.

Shared state. The breaker's state (consecutive failures, the time it opened, the half-open
probe) lives in the Django cache — Redis in every running stack — so every web process and
worker sees the same state: once N consecutive attempts failed anywhere, every process stops
sending for the cool-down. Counting uses `cache.add` + `cache.incr`, which are atomic in Redis.
The token bucket lives in Redis too when `REDIS_URL` is set (one Lua script: atomic refill +
take), so the configured rate is the broker's total rate across processes; without Redis
(tests, bare manage.py) it is an in-process bucket.

Timeouts. Adapters that do their work in this process's database transaction (`paper`,
`exchange`: `in_process = True`) are called inline — moving them to a thread would move them
out of the caller's transaction; their bound is the database lock-wait timeout. Any other
adapter (a remote broker) runs on a small thread pool and is abandoned after `timeout_s`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, fields, replace
from typing import Any, Protocol, TypeVar

from execution.protocol import (
    BrokerRateLimitedError,
    BrokerTimeoutError,
    BrokerUnavailableError,
    PermanentBrokerError,
    TransientBrokerError,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BrokerPolicy:
    rate_per_s: float = 10.0  # token refill rate
    burst: int = 20  # bucket capacity
    rate_limit_wait_s: float = 1.0  # longest wait for a token before BrokerRateLimitedError
    max_attempts: int = 3  # first try + retries, transient errors only
    backoff_base_s: float = 0.05  # attempt n waits ~ base × 2**n (jittered), capped below
    backoff_max_s: float = 2.0
    timeout_s: float = 5.0  # execution timeout of one attempt (threaded adapters)
    failure_threshold: int = 5  # consecutive failed attempts that open the breaker
    cooldown_s: float = 15.0  # open → half-open after this long

    def with_overrides(self, overrides: dict[str, Any]) -> BrokerPolicy:
        known = {f.name: f.type for f in fields(self)}
        clean = {}
        for key, value in overrides.items():
            if key not in known:
                raise ValueError(f"unknown broker policy field {key!r}")
            clean[key] = (
                int(value)
                if key in ("burst", "max_attempts", "failure_threshold")
                else float(value)
            )
        return replace(self, **clean)


# Internal venues answer from our own database: generous limits, quick breaker recovery.
DEFAULT_POLICIES: dict[str, BrokerPolicy] = {
    "paper": BrokerPolicy(rate_per_s=5000, burst=10000, cooldown_s=5.0),
    "exchange": BrokerPolicy(rate_per_s=5000, burst=10000, cooldown_s=5.0),
    # Kite's limits are per account (10 orders/s, 400/min, 5,000/day): enforced by the
    # adapter's own per-account buckets (adapters/kite_limits.py); this bucket is only the
    # stack-wide ceiling over all Kite accounts.
    "kite": BrokerPolicy(rate_per_s=500, burst=1000, timeout_s=8.0),
}
DEFAULT_POLICY = BrokerPolicy()


class CacheLike(Protocol):
    def get_many(self, keys: list[str]) -> dict[str, Any]: ...
    def add(self, key: str, value: Any, timeout: float | None = ...) -> bool: ...
    def incr(self, key: str, delta: int = ...) -> int: ...
    def set(self, key: str, value: Any, timeout: float | None = ...) -> None: ...
    def delete(self, key: str) -> Any: ...
    def delete_many(self, keys: list[str]) -> Any: ...


# ----------------------------------------------------------------------------- breaker


class BreakerState:
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """closed → open after `threshold` consecutive failed attempts → half-open after
    `cooldown_s` (one probe at a time) → closed on a success, open again on a failure."""

    _TTL = 24 * 3600  # keys expire eventually even if a broker is never called again

    def __init__(
        self,
        broker: str,
        *,
        cache: CacheLike,
        threshold: int,
        cooldown_s: float,
        probe_ttl_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.broker = broker
        self._cache = cache
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._probe_ttl = max(1.0, probe_ttl_s)
        self._clock = clock
        prefix = f"exec:cb:{broker}"
        self._fails_key = f"{prefix}:fails"
        self._opened_key = f"{prefix}:opened"
        self._probe_key = f"{prefix}:probe"

    def snapshot(self) -> dict[str, Any]:
        values = self._cache.get_many([self._fails_key, self._opened_key])
        fails = int(values.get(self._fails_key) or 0)
        opened = values.get(self._opened_key)
        return {
            "broker": self.broker,
            "state": self._state_of(opened),
            "consecutive_failures": fails,
            "opened_at": opened,
        }

    def _state_of(self, opened: float | None) -> str:
        if opened is None:
            return BreakerState.CLOSED
        if self._clock() - float(opened) < self.cooldown_s:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    @property
    def state(self) -> str:
        return self.snapshot()["state"]

    def before_call(self) -> bool:
        """Raise if no call may go out now; returns whether there is anything to reset on
        success (so a healthy broker costs one cache read per call, no writes)."""
        values = self._cache.get_many([self._fails_key, self._opened_key])
        opened = values.get(self._opened_key)
        state = self._state_of(opened)
        if state == BreakerState.OPEN:
            retry_in = self.cooldown_s - (self._clock() - float(opened))
            raise BrokerUnavailableError(
                f"Broker {self.broker!r} is unavailable: circuit breaker open after repeated "
                f"failures (next try in {max(retry_in, 0):.0f}s)."
            )
        if state == BreakerState.HALF_OPEN and not self._cache.add(
            self._probe_key, 1, timeout=self._probe_ttl
        ):
            raise BrokerUnavailableError(
                f"Broker {self.broker!r} is unavailable: circuit breaker half-open, "
                "a probe is already in flight."
            )
        return bool(values.get(self._fails_key)) or opened is not None

    def record_success(self, *, dirty: bool) -> None:
        if dirty:
            was_open = self._cache.get(self._opened_key) is not None
            self._cache.delete_many([self._fails_key, self._opened_key, self._probe_key])
            if was_open:
                from execution.registry import broker_status_changed

                broker_status_changed(
                    broker=self.broker, status="connected", detail="Calls succeed again."
                )

    def record_failure(self) -> None:
        self._cache.add(self._fails_key, 0, timeout=self._TTL)
        try:
            fails = self._cache.incr(self._fails_key)
        except ValueError:  # evicted between add and incr: start over
            self._cache.set(self._fails_key, 1, timeout=self._TTL)
            fails = 1
        if fails >= self.threshold:
            # Also re-opens a half-open breaker whose probe failed (fails stayed >= threshold).
            self._cache.set(self._opened_key, self._clock(), timeout=self._TTL)
            self._cache.delete(self._probe_key)
            logger.warning(
                "circuit breaker for broker %s is open (%s failures)", self.broker, fails
            )
            if fails == self.threshold:  # closed → open, once (not each failed probe)
                from execution.registry import broker_status_changed

                broker_status_changed(
                    broker=self.broker,
                    status="disconnected",
                    detail=f"{fails} calls in a row failed; new calls wait for it to recover.",
                )

    def reset(self) -> None:
        self._cache.delete_many([self._fails_key, self._opened_key, self._probe_key])


# ----------------------------------------------------------------------------- rate limit


class TokenBucket:
    """In-process token bucket (used when there is no Redis)."""

    def __init__(
        self, *, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate_per_s
        self.capacity = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._stamp = clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Take one token if there is one (returns 0.0), else how long until there is one."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate


_REDIS_BUCKET_LUA = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or capacity
local stamp = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 60)
return tostring(wait)
"""


class RedisTokenBucket:
    """The same bucket shared by every process: refill and take are one atomic Lua script."""

    def __init__(self, *, client: Any, key: str, rate_per_s: float, burst: int) -> None:
        self.rate = rate_per_s
        self.capacity = burst
        self._key = key
        self._client = client
        self._script = client.register_script(_REDIS_BUCKET_LUA)

    def take(self) -> float:
        # This host's wall clock (one round trip less than asking Redis for TIME); a clock a
        # little behind another host's only refills less (the script never refills backwards).
        stamp = time.time()
        return float(self._script(keys=[self._key], args=[self.capacity, self.rate, stamp]))


class Bucket(Protocol):
    def take(self) -> float: ...


# ----------------------------------------------------------------------------- the caller

_timeout_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="broker-call")


class ResilientCaller:
    """The resilience wrapper of one broker kind."""

    def __init__(
        self,
        broker: str,
        *,
        policy: BrokerPolicy,
        breaker: CircuitBreaker,
        bucket: Bucket,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.broker = broker
        self.policy = policy
        self.breaker = breaker
        self.bucket = bucket
        self._sleep = sleep
        self._rng = rng

    def backoff_s(self, attempt: int) -> float:
        """Delay before retry number `attempt` (0-based): exponential, capped, half-jittered."""
        ceiling = min(self.policy.backoff_max_s, self.policy.backoff_base_s * (2**attempt))
        return ceiling * (0.5 + self._rng() / 2)

    def _acquire_token(self) -> None:
        waited = 0.0
        while True:
            wait = self.bucket.take()
            if wait <= 0:
                return
            if waited + wait > self.policy.rate_limit_wait_s:
                raise BrokerRateLimitedError(
                    f"Broker {self.broker!r} rate limit reached "
                    f"({self.policy.rate_per_s:g}/s); try again shortly."
                )
            self._sleep(wait)
            waited += wait

    def _run(self, fn: Callable[[], T], *, in_process: bool, what: str) -> T:
        if in_process:
            return fn()
        future = _timeout_pool.submit(fn)
        try:
            return future.result(timeout=self.policy.timeout_s)
        except FutureTimeout as exc:
            future.cancel()
            raise BrokerTimeoutError(
                f"{what} on broker {self.broker!r} timed out after {self.policy.timeout_s:g}s"
            ) from exc

    def call(self, fn: Callable[[], T], *, what: str, in_process: bool = False) -> T:
        attempts = max(1, self.policy.max_attempts)
        for attempt in range(attempts):
            dirty = self.breaker.before_call()
            self._acquire_token()
            try:
                result = self._run(fn, in_process=in_process, what=what)
            except TransientBrokerError as exc:
                self.breaker.record_failure()
                if attempt + 1 >= attempts:
                    raise BrokerUnavailableError(
                        f"Broker {self.broker!r} is unavailable: {what} failed "
                        f"{attempts} times ({exc})."
                    ) from exc
                delay = self.backoff_s(attempt)
                logger.info(
                    "%s on %s failed (%s); retry %s in %.3fs",
                    what,
                    self.broker,
                    exc,
                    attempt + 1,
                    delay,
                )
                self._sleep(delay)
                continue
            except PermanentBrokerError:
                # The broker answered (with a refusal): it is up, so the breaker is satisfied.
                self.breaker.record_success(dirty=dirty)
                raise
            except BrokerUnavailableError:
                raise
            except Exception:
                # Unexpected failure inside the adapter: counts against the breaker, never
                # retried (it is not a named transient error), and re-raised to the caller.
                self.breaker.record_failure()
                raise
            self.breaker.record_success(dirty=dirty)
            return result
        raise AssertionError("unreachable")  # pragma: no cover
