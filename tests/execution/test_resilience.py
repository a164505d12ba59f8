"""Per-broker resilience: retries only named transient errors, backoff, breaker, rate limit."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import cache

from execution.protocol import (
    BrokerRateLimitedError,
    BrokerTimeoutError,
    BrokerUnavailableError,
    PermanentBrokerError,
    TransientBrokerError,
)
from execution.resilience import (
    BreakerState,
    BrokerPolicy,
    CircuitBreaker,
    ResilientCaller,
    TokenBucket,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Flaky:
    """An adapter call that fails with the given errors, in order, then answers "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def make_caller(
    *, clock: Clock | None = None, sleeps: list | None = None, broker: str = "fake", **policy
) -> ResilientCaller:
    clock = clock or Clock()
    settings = {
        "max_attempts": 3,
        "failure_threshold": 5,
        "cooldown_s": 30.0,
        "rate_per_s": 1000,
        "burst": 1000,
    }
    settings.update(policy)
    pol = BrokerPolicy(**settings)
    breaker = CircuitBreaker(
        broker,
        cache=cache,
        threshold=pol.failure_threshold,
        cooldown_s=pol.cooldown_s,
        probe_ttl_s=10,
        clock=clock,
    )
    bucket = TokenBucket(rate_per_s=pol.rate_per_s, burst=pol.burst, clock=clock)
    record = sleeps if sleeps is not None else []
    return ResilientCaller(
        broker, policy=pol, breaker=breaker, bucket=bucket, sleep=record.append, rng=lambda: 0.5
    )


def test_transient_errors_are_retried_with_exponential_backoff():
    # given a call that fails twice with a named transient error, then succeeds
    sleeps: list[float] = []
    caller = make_caller(sleeps=sleeps, backoff_base_s=0.1, backoff_max_s=10)
    call = Flaky(TransientBrokerError("reset"), TransientBrokerError("503"))
    # when it is called through the wrapper
    assert caller.call(call, what="submit") == "ok"
    # then it was tried three times with backoff 0.1·2⁰ and 0.1·2¹ (× jitter 0.75)
    assert call.calls == 3
    assert sleeps == pytest.approx([0.075, 0.15])


def test_backoff_is_capped():
    caller = make_caller(backoff_base_s=1, backoff_max_s=3)
    assert caller.backoff_s(10) == pytest.approx(3 * 0.75)


def test_permanent_and_unexpected_errors_are_not_retried():
    caller = make_caller()
    refused = Flaky(PermanentBrokerError("bad credentials"))
    with pytest.raises(PermanentBrokerError):
        caller.call(refused, what="submit")
    assert refused.calls == 1
    broken = Flaky(ValueError("bug"))
    with pytest.raises(ValueError):
        caller.call(broken, what="submit")
    assert broken.calls == 1


def test_retries_exhausted_raise_broker_unavailable():
    caller = make_caller(max_attempts=2)
    call = Flaky(*[TransientBrokerError("down")] * 5)
    with pytest.raises(BrokerUnavailableError, match="failed 2 times"):
        caller.call(call, what="submit")
    assert call.calls == 2


def test_breaker_opens_after_n_failures_and_stops_calling_the_adapter():
    # given a breaker that opens after 3 consecutive failed attempts
    caller = make_caller(max_attempts=1, failure_threshold=3)
    for _ in range(3):
        with pytest.raises(BrokerUnavailableError):
            caller.call(Flaky(TransientBrokerError("down")), what="submit")
    assert caller.breaker.state == BreakerState.OPEN
    # when another call comes in
    untouched = Flaky()
    # then it fails fast without reaching the adapter
    with pytest.raises(BrokerUnavailableError, match="circuit breaker open"):
        caller.call(untouched, what="submit")
    assert untouched.calls == 0


def test_a_success_resets_the_consecutive_failure_count():
    caller = make_caller(max_attempts=1, failure_threshold=3)
    for _ in range(2):
        with pytest.raises(BrokerUnavailableError):
            caller.call(Flaky(TransientBrokerError("down")), what="submit")
    assert caller.call(Flaky(), what="submit") == "ok"
    with pytest.raises(BrokerUnavailableError):
        caller.call(Flaky(TransientBrokerError("down")), what="submit")
    assert caller.breaker.state == BreakerState.CLOSED


def test_half_open_after_cooldown_a_successful_probe_closes_the_breaker():
    clock = Clock()
    caller = make_caller(clock=clock, max_attempts=1, failure_threshold=2, cooldown_s=30)
    for _ in range(2):
        with pytest.raises(BrokerUnavailableError):
            caller.call(Flaky(TransientBrokerError("down")), what="submit")
    # when the cool-down has passed
    clock.now += 31
    assert caller.breaker.state == BreakerState.HALF_OPEN
    # then one probe goes through, and its success closes the breaker
    probe = Flaky()
    assert caller.call(probe, what="submit") == "ok"
    assert probe.calls == 1
    assert caller.breaker.state == BreakerState.CLOSED


def test_half_open_failed_probe_reopens_and_only_one_probe_at_a_time():
    clock = Clock()
    caller = make_caller(clock=clock, max_attempts=1, failure_threshold=2, cooldown_s=30)
    for _ in range(2):
        with pytest.raises(BrokerUnavailableError):
            caller.call(Flaky(TransientBrokerError("down")), what="submit")
    clock.now += 31
    # while a probe is in flight, a second caller is refused without calling the adapter
    second = Flaky()

    def probe_call() -> str:
        with pytest.raises(BrokerUnavailableError, match="probe is already in flight"):
            caller.call(second, what="submit")
        raise TransientBrokerError("still down")

    with pytest.raises(BrokerUnavailableError):
        caller.call(probe_call, what="submit")
    assert second.calls == 0
    # the failed probe re-opened the breaker for another cool-down
    assert caller.breaker.state == BreakerState.OPEN
    clock.now += 29
    assert caller.breaker.state == BreakerState.OPEN


def test_breaker_state_is_shared_by_every_process_through_the_cache():
    # given two wrappers of the same broker (two processes) sharing the cache
    clock = Clock()
    process_a = make_caller(clock=clock, max_attempts=1, failure_threshold=2)
    process_b = make_caller(clock=clock, max_attempts=1, failure_threshold=2)
    # when process A sees the broker fail twice
    for _ in range(2):
        with pytest.raises(BrokerUnavailableError):
            process_a.call(Flaky(TransientBrokerError("down")), what="submit")
    # then process B stops sending too
    untouched = Flaky()
    with pytest.raises(BrokerUnavailableError):
        process_b.call(untouched, what="submit")
    assert untouched.calls == 0


def test_rate_limit_waits_for_a_token_then_refuses_past_the_allowed_wait():
    clock = Clock()
    sleeps: list[float] = []
    caller = make_caller(clock=clock, sleeps=sleeps, rate_per_s=2, burst=2, rate_limit_wait_s=0.6)
    # given a burst of 2 and 2 tokens/s: two calls go at once
    assert caller.call(Flaky(), what="a") == "ok"
    assert caller.call(Flaky(), what="b") == "ok"
    assert sleeps == []

    # a third waits half a second for its token (the fake sleep advances the clock)
    def sleep_and_advance(seconds: float) -> None:
        sleeps.append(seconds)
        clock.now += seconds

    caller._sleep = sleep_and_advance
    assert caller.call(Flaky(), what="c") == "ok"
    assert sleeps == [pytest.approx(0.5)]
    # when tokens are gone and the wait would exceed the allowed wait, the call is refused
    untouched = Flaky()
    tight = make_caller(clock=clock, rate_per_s=1, burst=1, rate_limit_wait_s=0.1)
    tight.call(Flaky(), what="e")
    with pytest.raises(BrokerRateLimitedError):
        tight.call(untouched, what="f")
    assert untouched.calls == 0
    # a rate-limited call does not count against the breaker
    assert tight.breaker.snapshot()["consecutive_failures"] == 0


def test_a_hanging_remote_call_times_out_and_is_retried_as_transient():
    release = threading.Event()
    calls = []

    def hang() -> str:
        calls.append(1)
        release.wait(5)
        return "late"

    caller = make_caller(max_attempts=2, timeout_s=0.05, backoff_base_s=0)
    try:
        with pytest.raises(BrokerUnavailableError) as raised:
            caller.call(hang, what="submit", in_process=False)
        assert isinstance(raised.value.__cause__, BrokerTimeoutError)
        assert len(calls) == 2
    finally:
        release.set()


def test_policy_overrides_from_settings(settings):
    from execution.services import broker_policy

    settings.OMS_BROKER_POLICIES = {"*": {"max_attempts": 7}, "paper": {"rate_per_s": 12}}
    paper = broker_policy(broker="paper")
    assert (paper.max_attempts, paper.rate_per_s) == (7, 12.0)
    assert broker_policy(broker="zerodha").max_attempts == 7
    settings.OMS_BROKER_POLICIES = {"paper": {"nonsense": 1}}
    with pytest.raises(ValueError, match="nonsense"):
        broker_policy(broker="paper")
