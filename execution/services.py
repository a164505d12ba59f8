"""What orders/ (and reconciliation) call to reach a venue.

Each function looks up the adapter of the broker kind and calls it through that broker's
resilience wrapper (`execution/resilience.py`: token-bucket rate limit, retries with backoff
for `TransientBrokerError` only, execution timeout, circuit breaker shared through the cache).
A real broker's wrapper is per account (its own breaker; the kind's token bucket), so one
account that fails does not stop the broker's other accounts; paper and exchange have one
per kind.

Errors the caller must handle:
- `BrokerUnavailableError` (breaker open, retries exhausted; `BrokerRateLimitedError` is a
  subclass): nothing was done at the venue that the caller doesn't know of — try again later
  (the API answers 503 `broker_unavailable`).
- `PermanentBrokerError`: the venue refused for good (unknown broker kind, bad credentials).
Business refusals (no quote, unknown order) are `rejected` / `*_rejected` execution reports.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache

from execution import conf
from execution.protocol import (
    BrokerAdapter,
    ExecutionReport,
    ModifyRequest,
    OrderRequest,
    PermanentBrokerError,
    VenueOrderView,
    VenuePosition,
)
from execution.registry import broker_kinds, get_adapter
from execution.resilience import (
    DEFAULT_POLICIES,
    DEFAULT_POLICY,
    BrokerPolicy,
    Bucket,
    CircuitBreaker,
    RedisTokenBucket,
    ResilientCaller,
    TokenBucket,
)

T = TypeVar("T")

_callers: dict[tuple[str, str | None, BrokerPolicy, str], ResilientCaller] = {}
_buckets: dict[tuple[str, BrokerPolicy, str], Bucket] = {}
_callers_lock = threading.Lock()
_redis_clients: dict[str, object] = {}


def broker_policy(*, broker: str) -> BrokerPolicy:
    base = DEFAULT_POLICIES.get(broker, DEFAULT_POLICY)
    return base.with_overrides(conf.broker_policy_overrides(broker))


def _redis_client(url: str):
    client = _redis_clients.get(url)
    if client is None:
        import redis

        client = _redis_clients[url] = redis.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2
        )
    return client


def _make_bucket(broker: str, policy: BrokerPolicy, redis_url: str) -> Bucket:
    if redis_url:
        return RedisTokenBucket(
            client=_redis_client(redis_url),
            key=f"oms:exec:rl:{broker}",
            rate_per_s=policy.rate_per_s,
            burst=policy.burst,
        )
    return TokenBucket(rate_per_s=policy.rate_per_s, burst=policy.burst)


def broker_caller(*, broker: str, account_id: str | None = None) -> ResilientCaller:
    """The (process-wide) resilience wrapper of `broker` — of `account_id` at `broker` for a
    real (not in-process) broker; rebuilt when its policy changes."""
    policy = broker_policy(broker=broker)
    redis_url = settings.REDIS_URL
    scope = str(account_id) if account_id and not broker_in_process(broker) else None
    key = (broker, scope, policy, redis_url)
    caller = _callers.get(key)
    if caller is None:
        with _callers_lock:
            caller = _callers.get(key)
            if caller is None:
                breaker = CircuitBreaker(
                    broker,
                    cache=cache,
                    account_id=scope,
                    threshold=policy.failure_threshold,
                    cooldown_s=policy.cooldown_s,
                    probe_ttl_s=policy.timeout_s * 2,
                )
                bucket_key = (broker, policy, redis_url)
                bucket = _buckets.get(bucket_key)
                if bucket is None:  # one bucket per kind, shared by its accounts' wrappers
                    bucket = _buckets[bucket_key] = _make_bucket(broker, policy, redis_url)
                caller = _callers[key] = ResilientCaller(
                    broker, policy=policy, breaker=breaker, bucket=bucket
                )
    return caller


def broker_callers_reset() -> None:
    """Forget the per-process wrappers (token buckets); the shared breaker state stays."""
    with _callers_lock:
        _callers.clear()
        _buckets.clear()


def _adapter(broker: str) -> BrokerAdapter:
    try:
        return get_adapter(broker)
    except LookupError as exc:
        raise PermanentBrokerError(f"No broker adapter for {broker!r}.") from exc


def broker_in_process(broker: str) -> bool:
    """Whether `broker`'s venue works inside this database's transaction (paper, the
    internal exchange) rather than over a network; False for an unknown kind."""
    try:
        adapter = get_adapter(broker)
    except LookupError:
        return False
    return bool(getattr(adapter, "in_process", False))


def in_process_brokers() -> list[str]:
    """The registered broker kinds whose venue works inside this database (paper, the
    internal exchange): their orders are submitted in bursts."""
    return [kind for kind in broker_kinds() if broker_in_process(kind)]


def _guarded(broker: str, account_id: str, what: str, fn: Callable[[BrokerAdapter], T]) -> T:
    adapter = _adapter(broker)
    in_process = bool(getattr(adapter, "in_process", False))
    caller = broker_caller(broker=broker, account_id=account_id)
    return caller.call(lambda: fn(adapter), what=what, in_process=in_process)


def _checked(reports: list[ExecutionReport]) -> list[ExecutionReport]:
    ids = [report.report_id for report in reports]
    if len(set(ids)) != len(ids) or not all(ids):
        raise AssertionError(f"an adapter returned reports without unique ids: {ids}")
    return reports


def broker_submit(request: OrderRequest) -> list[ExecutionReport]:
    """Send a new order. Safe to repeat for the same order id (a re-submission after a crash
    returns the reports already produced, with the same report ids)."""
    return _checked(
        _guarded(
            request.broker,
            request.account_id,
            f"submit {request.order_id}",
            lambda a: a.submit(request),
        )
    )


def broker_submit_burst(
    *, broker: str, requests: list[OrderRequest]
) -> list[list[ExecutionReport] | PermanentBrokerError]:
    """Send a burst of new orders to one in-process venue in ONE guarded call (its breaker
    and rate bucket consulted once): each order's reports, or the refusal that was only
    its own. A venue without `submit_many` gets them one by one inside that call. Raises
    BrokerUnavailableError when the venue is unavailable for all of them."""

    def send(adapter: BrokerAdapter) -> list[list[ExecutionReport] | PermanentBrokerError]:
        many = getattr(adapter, "submit_many", None)
        if many is not None:
            return [_checked(reports) for reports in many(requests)]
        answers: list[list[ExecutionReport] | PermanentBrokerError] = []
        for request in requests:
            try:
                answers.append(_checked(adapter.submit(request)))
            except PermanentBrokerError as exc:
                answers.append(exc)
        return answers

    if not broker_in_process(broker):
        raise ValueError(f"{broker!r} is not an in-process venue: submit its orders one by one")
    return _guarded(broker, "", f"submit {len(requests)} orders", send)


def broker_modify(request: ModifyRequest) -> list[ExecutionReport]:
    """Modify a working order in place (`new_qty` is the new TOTAL quantity). When
    `request.broker` is empty the kind is looked up from the venue's record of the order."""
    kind = request.broker or _broker_of(request.order_id)
    return _checked(
        _guarded(
            kind, request.account_id, f"modify {request.order_id}", lambda a: a.modify(request)
        )
    )


def broker_cancel(
    *, order_id: str, account_id: str, symbol: str, broker: str
) -> list[ExecutionReport]:
    return _checked(
        _guarded(
            broker,
            account_id,
            f"cancel {order_id}",
            lambda a: a.cancel(order_id=order_id, account_id=account_id, symbol=symbol),
        )
    )


def broker_open_orders(*, broker: str, account_id: str) -> list[VenueOrderView]:
    return _guarded(
        broker, account_id, "open orders", lambda a: a.open_orders(account_id=account_id)
    )


def broker_positions(*, broker: str, account_id: str) -> list[VenuePosition]:
    return _guarded(broker, account_id, "positions", lambda a: a.positions(account_id=account_id))


def _broker_of(order_id: str) -> str:
    from execution.models import VenueOrder

    venue = VenueOrder.objects.filter(order_id=order_id).values_list("venue", flat=True).first()
    if venue is None:
        raise PermanentBrokerError(f"Order {order_id} is unknown to every venue.")
    return venue
