"""Submission under a backlog: a drainer that is behind says so and wakes its helpers; API
placements for in-process venues wait (bounded) for the queue to catch up, so a client
sending as fast as it is answered slows to the rate its orders are filled."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.core import submit_burst
from orders.models import Order, OrderStatus
from tests.factories import account_with_member
from tests.orders.conftest import order_body
from tests.orders.factories import place

pytestmark = pytest.mark.django_db


@pytest.fixture
def recorded_sends(monkeypatch):
    """Drain tasks sent, recorded instead of run; every slot and the behind mark free."""
    sent: list[int] = []
    monkeypatch.setattr(
        submit_burst.jobs, "send", lambda name, **kwargs: sent.append(kwargs["slot"])
    )
    submit_burst.cache.delete_many(
        [submit_burst.WAKE_KEY.format(slot=s) for s in range(4)] + [submit_burst.BEHIND_KEY]
    )
    submit_burst._BehindMark.marked_at = None
    yield sent
    submit_burst.cache.delete(submit_burst.BEHIND_KEY)
    submit_burst._BehindMark.marked_at = None


def _market_buys(trader, account, count: int) -> list[Order]:
    return [
        place(trader, account, order_type="market", limit_price=None, qty="1") for _ in range(count)
    ]


def test_a_claim_that_sees_another_full_burst_waiting_marks_the_queue_behind_until_caught_up(
    trader, paper, quoted, recorded_sends
):
    # given five pending orders and bursts of two (a look sees up to four)
    _market_buys(trader, paper, 5)
    # when the first burst claims two of them
    first = submit_burst.orders_submit_burst(limit=2)
    # then it saw two more bursts' worth waiting: the queue is marked behind
    assert (first.orders, first.behind) == (2, True)
    assert submit_burst.cache.get(submit_burst.BEHIND_KEY)
    # when the next burst finds three (less than a full look)
    second = submit_burst.orders_submit_burst(limit=2)
    # then the queue is no longer behind, and the mark is gone
    assert (second.orders, second.behind) == (2, False)
    assert submit_burst.cache.get(submit_burst.BEHIND_KEY) is None


def test_a_drainer_that_is_behind_wakes_the_helpers_and_a_helper_leaves_when_caught_up(
    settings, trader, paper, quoted, recorded_sends
):
    # given three drainer slots, bursts of two and seven pending orders
    settings.OMS_SUBMIT_DRAINERS = 3
    settings.OMS_SUBMIT_BURST_MAX = 2
    orders = _market_buys(trader, paper, 7)
    # when a helper drains (as the main drainer would have woken it)
    submit_burst.cache.set(submit_burst.WAKE_KEY.format(slot=1), 1)
    sizes = submit_burst.orders_submit_drain(slot=1)
    # then it took full bursts while they were full and left at the first that was not
    assert sizes == [2, 2, 2, 1]
    # and being behind at its first look, it woke the one other helper not already awake
    assert recorded_sends == [2]
    # and it freed its slot, and every order is filled
    assert submit_burst.cache.get(submit_burst.WAKE_KEY.format(slot=1)) is None
    assert {o.status for o in Order.objects.filter(pk__in=[o.pk for o in orders])} == {
        OrderStatus.FILLED
    }


def test_the_main_drainer_pauses_after_a_small_burst_so_what_arrives_makes_one_burst(
    settings, monkeypatch, trader, paper, quoted, worker_drain, recorded_sends
):
    # given one pending order, and three more arriving while the drainer pauses after it
    settings.OMS_SUBMIT_POLL_MS = 10
    settings.OMS_SUBMIT_LINGER_MS = 0
    _market_buys(trader, paper, 1)
    real_sleep = submit_burst.time.sleep
    pauses: list[float] = []

    def pause_and_receive(seconds):
        if not pauses:
            _market_buys(trader, paper, 3)
        pauses.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(submit_burst.time, "sleep", pause_and_receive)
    submit_burst.cache.set(submit_burst.WAKE_KEY.format(slot=0), 1)
    # when the main drainer runs
    sizes = submit_burst.orders_submit_drain(slot=0)
    # then the three that arrived during its pause went together, in its next burst
    assert sizes == [1, 3]
    assert pauses[0] == pytest.approx(0.01)
    # and no helper was woken (never behind)
    assert recorded_sends == []


def _pending_paper(trader, paper) -> Order:
    return Order(account=paper, broker="paper", status=OrderStatus.PENDING_NEW)


@pytest.mark.django_db(transaction=True)
def test_a_placement_waits_while_the_queue_is_behind_and_goes_on_when_it_has_caught_up(
    settings, monkeypatch, trader, paper, recorded_sends
):
    # given a queue marked behind, which catches up after three pauses of the placement
    settings.OMS_SUBMIT_PACE_MAX_MS = 10_000
    submit_burst.cache.set(submit_burst.BEHIND_KEY, 1)
    pauses: list[float] = []

    def pause(seconds):
        pauses.append(seconds)
        if len(pauses) == 3:
            submit_burst.cache.delete(submit_burst.BEHIND_KEY)

    monkeypatch.setattr(submit_burst.time, "sleep", pause)
    # when an order queued for the paper venue is paced (outside any transaction)
    submit_burst.submission_pace(orders=[_pending_paper(trader, paper)])
    # then it waited exactly until the mark went
    assert pauses == [submit_burst.PACE_STEP_S] * 3


@pytest.mark.django_db(transaction=True)
def test_a_placement_waits_no_longer_than_the_bound(settings, trader, paper, recorded_sends):
    # given a queue that stays behind, and a bound of 60 ms
    settings.OMS_SUBMIT_PACE_MAX_MS = 60
    submit_burst.cache.set(submit_burst.BEHIND_KEY, 1)
    # when an order is paced
    waited = submit_burst.submission_pace(orders=[_pending_paper(trader, paper)])
    # then it went on after the bound (and not long after: a step at most)
    assert 0.06 <= waited < 0.06 + 10 * submit_burst.PACE_STEP_S


@pytest.mark.django_db(transaction=True)
def test_orders_not_queued_for_an_in_process_venue_never_wait(
    settings, monkeypatch, trader, paper, recorded_sends
):
    # given a queue marked behind
    settings.OMS_SUBMIT_PACE_MAX_MS = 10_000
    submit_burst.cache.set(submit_burst.BEHIND_KEY, 1)
    monkeypatch.setattr(
        submit_burst.time, "sleep", lambda s: pytest.fail("an order that is not queued waited")
    )
    outside = account_with_member(user=trader, role="owner", broker="alpaca", cash=Decimal("1"))
    filled = Order(account=paper, broker="paper", status=OrderStatus.FILLED)
    at_alpaca = Order(account=outside, broker="alpaca", status=OrderStatus.PENDING_NEW)
    # when orders already filled, or sent to an outside venue by their own task, are paced
    waited = submit_burst.submission_pace(orders=[filled, at_alpaca])
    # then nothing waited
    assert waited == 0.0


def test_a_placement_inside_a_transaction_never_waits(settings, trader, paper, recorded_sends):
    # given a queue marked behind, and a caller holding a transaction (its locks)
    settings.OMS_SUBMIT_PACE_MAX_MS = 10_000
    submit_burst.cache.set(submit_burst.BEHIND_KEY, 1)
    # when an order is paced there (this test runs in a transaction)
    waited = submit_burst.submission_pace(orders=[_pending_paper(trader, paper)])
    # then it does not wait: it would hold the transaction's locks meanwhile
    assert waited == 0.0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
def test_an_api_placement_is_stored_then_answered_once_the_queue_has_caught_up(
    batch, settings, monkeypatch, client, trader, paper, quoted, recorded_sends
):
    # given a submission queue marked behind, which catches up at the placement's 2nd pause
    settings.OMS_SUBMIT_PACE_MAX_MS = 10_000
    submit_burst.cache.set(submit_burst.BEHIND_KEY, 1)
    stored_when_waiting: list[int] = []

    def pause(seconds):
        stored_when_waiting.append(Order.objects.filter(status=OrderStatus.PENDING_NEW).count())
        if len(stored_when_waiting) == 2:
            submit_burst.cache.delete(submit_burst.BEHIND_KEY)

    monkeypatch.setattr(submit_burst.time, "sleep", pause)
    body = order_body(paper, type="market", limit_price=..., qty="1")
    # when a market order for the paper venue is placed through the API
    if batch:
        response = client.post("/api/v1/orders/batch", {"orders": [body, body]}, format="json")
        expected_status, stored = 207, 2
    else:
        response = client.post("/api/v1/orders", body, format="json")
        expected_status, stored = 201, 1
    # then it was stored (and committed) before the answer waited, and answered after
    assert response.status_code == expected_status, response.content
    assert stored_when_waiting == [stored, stored]
