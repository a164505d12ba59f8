"""API rate limits by two window counters: the rate holds over any window, each caller
has their own, and a refused caller is told when to come back."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.cache import cache

from oms_site.throttling import AnonSlidingWindowThrottle, UserSlidingWindowThrottle


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def user_request(pk: int):
    return SimpleNamespace(user=SimpleNamespace(is_authenticated=True, pk=pk), META={})


def throttle(clock: Clock, rate: str = "3/min") -> UserSlidingWindowThrottle:
    instance = UserSlidingWindowThrottle()
    instance.rate = rate
    instance.num_requests, instance.duration = instance.parse_rate(rate)
    instance.timer = clock
    return instance


def test_the_rate_is_allowed_and_the_next_request_is_refused_with_a_wait():
    clock = Clock(6_000.0)  # the start of a minute window
    answers = [throttle(clock).allow_request(user_request(1), None) for _ in range(3)]
    refused = throttle(clock)
    assert answers == [True, True, True]
    assert refused.allow_request(user_request(1), None) is False
    assert refused.wait() == pytest.approx(60.0)


def test_requests_of_the_previous_window_count_for_the_part_still_inside():
    clock = Clock(6_000.0)
    for _ in range(3):
        assert throttle(clock).allow_request(user_request(1), None)
    # 20 s into the next window two thirds of the previous 3 still count (2): one more fits
    clock.now = 6_080.0
    assert throttle(clock).allow_request(user_request(1), None) is True
    assert throttle(clock).allow_request(user_request(1), None) is False
    # 50 s in only 1/6 of them counts (0.5) + the 1 taken: one more fits, then none
    clock.now = 6_110.0
    assert throttle(clock).allow_request(user_request(1), None) is True
    assert throttle(clock).allow_request(user_request(1), None) is False


def test_no_burst_at_a_window_edge_exceeds_the_rate():
    # 3 at the very end of one window, then at once 3 more at the start of the next: refused
    clock = Clock(6_059.9)
    for _ in range(3):
        assert throttle(clock).allow_request(user_request(1), None)
    clock.now = 6_060.1
    assert throttle(clock).allow_request(user_request(1), None) is False


def test_each_user_has_their_own_budget():
    clock = Clock(6_000.0)
    for _ in range(3):
        throttle(clock).allow_request(user_request(1), None)
    assert throttle(clock).allow_request(user_request(1), None) is False
    assert throttle(clock).allow_request(user_request(2), None) is True


def test_anonymous_callers_are_counted_by_address():
    clock = Clock(6_000.0)
    anon = SimpleNamespace(
        user=SimpleNamespace(is_authenticated=False),
        headers={},
        META={"REMOTE_ADDR": "10.0.0.9"},
    )

    def make():
        instance = AnonSlidingWindowThrottle()
        instance.rate = "1/min"
        instance.num_requests, instance.duration = instance.parse_rate("1/min")
        instance.timer = clock
        return instance

    assert make().allow_request(anon, None) is True
    assert make().allow_request(anon, None) is False
