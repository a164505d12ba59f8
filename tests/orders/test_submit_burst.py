"""Submitting in bursts: the orders pending for an in-process venue are claimed, sent and
answered together; nothing is lost when a burst fails and nothing doubles when one runs
twice."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from execution.models import VenueFill, VenueOrder
from oms_site.celery import app as celery_app
from orders.core import submit_burst
from orders.core.lifecycle import order_replay, order_state
from orders.models import Order, OrderStatus
from pnl.models import Fill, Position
from tests.factories import account_with_member
from tests.orders.factories import place

pytestmark = pytest.mark.django_db


def _market_buys(trader, account, count: int, qty: str = "2") -> list[Order]:
    return [
        place(trader, account, order_type="market", limit_price=None, qty=qty) for _ in range(count)
    ]


def test_a_burst_fills_every_pending_paper_order_and_records_its_size(trader, paper, quoted):
    # given six market buys committed and waiting for the venue
    orders = _market_buys(trader, paper, 6)
    # when one burst drains them
    burst = submit_burst.orders_submit_burst(limit=50)
    # then all six were sent together and filled at the ask, each audited once as submitted
    assert burst.orders == 6
    for order in orders:
        order.refresh_from_db()
        assert order.status == OrderStatus.FILLED
        assert order.avg_fill_price == Decimal("100.05")
        submitted = order.events.filter(type="submitted")
        assert [e.data for e in submitted] == [{"broker": "paper", "burst": 6}]
        assert order_replay(order.events.order_by("seq")) == order_state(order)
    # and the position is the sum, booked once per order
    position = Position.objects.get(account=paper, instrument=quoted)
    assert position.qty == Decimal("12")
    assert Fill.objects.filter(account=paper).count() == 6


def test_a_burst_costs_a_fraction_of_the_queries_of_one_submission_each(trader, paper, quoted):
    # given twenty pending paper orders
    _market_buys(trader, paper, 20, qty="1")
    # when they are drained in one burst
    with CaptureQueriesContext(connection) as queries:
        burst = submit_burst.orders_submit_burst(limit=50)
    # then the statements per order stay few (one submission alone costs about 25)
    assert burst.orders == 20
    assert len(queries) / 20 < 8, [q["sql"][:80] for q in queries]


def test_a_burst_takes_at_most_its_limit_and_the_next_takes_the_rest(trader, paper, quoted):
    # given five pending orders
    _market_buys(trader, paper, 5)
    # when bursts of two drain them
    sizes = [submit_burst.orders_submit_burst(limit=2).orders for _ in range(4)]
    # then 2 + 2 + 1, and then nothing is left
    assert sizes == [2, 2, 1, 0]
    assert not Order.objects.filter(status=OrderStatus.PENDING_NEW).exists()


def test_a_burst_run_twice_sends_and_books_nothing_twice(trader, paper, quoted):
    # given three orders drained once
    orders = _market_buys(trader, paper, 3)
    submit_burst.orders_submit_burst(limit=50)
    # when the same drain runs again (a task delivered twice)
    again = submit_burst.orders_submit_drain(slot=0)
    # then it found nothing to do, and every order has one venue row, one fill, one claim
    assert again == []
    for order in orders:
        assert VenueOrder.objects.filter(pk=str(order.pk)).count() == 1
        assert VenueFill.objects.filter(order_id=str(order.pk)).count() == 1
        assert Fill.objects.filter(order_id=order.pk).count() == 1
        assert order.events.filter(type="submitted").count() == 1


def test_orders_of_an_outside_venue_are_left_to_their_own_task(trader, quoted, fake_broker):
    # given an order at a venue reached over the network, pending
    fake_broker.in_process = False
    outside = account_with_member(user=trader, role="owner", broker="fake", cash=Decimal("1e6"))
    order = place(trader, outside)
    # when a burst drains
    burst = submit_burst.orders_submit_burst(limit=50)
    # then it did not take it: the order's own submission task sends it
    assert burst.orders == 0
    order.refresh_from_db()
    assert order.submitted_at is None and fake_broker.submitted == []


def test_a_failing_burst_is_retried_order_by_order_and_loses_nothing(
    trader, paper, quoted, monkeypatch
):
    # given four pending orders, and applying a whole burst's answers fails once
    orders = _market_buys(trader, paper, 4)
    calls = {"n": 0}
    real_apply = submit_burst.order_apply_reports

    def fails_for_the_burst(reports, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the report path is down")
        return real_apply(reports, **kwargs)

    monkeypatch.setattr(submit_burst, "order_apply_reports", fails_for_the_burst)
    # when the burst runs
    burst = submit_burst.orders_submit_burst(limit=50)
    # then the burst rolled back and each order was then submitted on its own: all filled
    # exactly once (nothing kept of the failed attempt)
    assert burst.orders == 4
    for order in orders:
        order.refresh_from_db()
        assert order.status == OrderStatus.FILLED
        assert Fill.objects.filter(order_id=order.pk).count() == 1
        assert order.events.filter(type="submitted").count() == 1
    assert VenueOrder.objects.count() == 4


def test_one_order_that_fails_on_its_own_does_not_hold_back_the_others(
    trader, paper, quoted, monkeypatch
):
    # given three pending orders, one of which cannot be applied at all
    good_one, bad, good_two = _market_buys(trader, paper, 3)
    real_apply = submit_burst.order_apply_reports

    def refuses_the_bad_one(reports, **kwargs):
        if any(report.order_id == str(bad.pk) for report in reports):
            raise RuntimeError("this order's answer breaks the report path")
        return real_apply(reports, **kwargs)

    monkeypatch.setattr(submit_burst, "order_apply_reports", refuses_the_bad_one)
    monkeypatch.setattr("orders.core.submit.order_apply_reports", refuses_the_bad_one)
    # when the burst runs
    submit_burst.orders_submit_burst(limit=50)
    # then the good ones are filled; the bad one stays pending, marked sent so later bursts
    # skip it, for the pending_new sweeper to send again on its own
    for order in (good_one, good_two):
        order.refresh_from_db()
        assert order.status == OrderStatus.FILLED
    bad.refresh_from_db()
    assert bad.status == OrderStatus.PENDING_NEW and bad.submitted_at is not None
    assert submit_burst.orders_submit_burst(limit=50).orders == 0


def test_a_venue_refusing_the_burst_rejects_its_orders_with_the_reason(trader, quoted, fake_broker):
    # given two pending orders at an in-process venue that is unavailable
    fake = account_with_member(user=trader, role="owner", broker="fake", cash=Decimal("1e6"))
    orders = [place(trader, fake), place(trader, fake)]
    fake_broker.mode = "unavailable"
    # when the burst runs
    submit_burst.orders_submit_burst(limit=50)
    # then both are rejected, saying why
    for order in orders:
        order.refresh_from_db()
        assert order.status == OrderStatus.REJECTED
        assert order.reject_reason.startswith("broker_unavailable")


def test_a_permanent_refusal_rejects_only_its_own_order(trader, quoted, fake_broker):
    # given two pending orders at a venue that refuses the first for good
    fake = account_with_member(user=trader, role="owner", broker="fake", cash=Decimal("1e6"))
    first, second = place(trader, fake), place(trader, fake)
    refused = str(first.pk)
    real_submit = fake_broker.submit

    def refuse_first(request):
        if request.order_id == refused:
            fake_broker.mode = "permanent"
            try:
                return real_submit(request)
            finally:
                fake_broker.mode = "ack"
        return real_submit(request)

    fake_broker.submit = refuse_first
    # when the burst runs
    submit_burst.orders_submit_burst(limit=50)
    # then the first is rejected with the venue's reason and the second is working
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == OrderStatus.REJECTED
    assert first.reject_reason.startswith("broker_error")
    assert second.status == OrderStatus.NEW


def test_orders_wake_the_main_drainer_once_and_its_look_frees_the_slot(settings, monkeypatch):
    # given two drainer slots and a task sender that records
    settings.OMS_SUBMIT_DRAINERS = 2
    sent: list[dict] = []
    monkeypatch.setattr(
        submit_burst.jobs, "send", lambda name, **kwargs: sent.append({"name": name, **kwargs})
    )
    submit_burst.cache.delete_many([submit_burst.WAKE_KEY.format(slot=s) for s in (0, 1)])
    # when three orders wake the drainers
    woken = [submit_burst.submit_wake() for _ in range(3)]
    # then one drain task was sent, for the main drainer: the helper is not woken by orders
    assert woken == [True, False, False]
    assert sent == [{"name": submit_burst.DRAIN_TASK, "slot": 0}]
    # and once the main drainer has looked (and found nothing), the next order wakes it again
    assert submit_burst.orders_submit_drain(slot=0) == []
    assert submit_burst.submit_wake() is True
    assert sent[-1] == {"name": submit_burst.DRAIN_TASK, "slot": 0}


def test_a_drainer_lingers_and_takes_what_arrives_meanwhile_in_the_same_task(
    settings, monkeypatch, trader, paper, quoted, worker_drain
):
    # given a drainer that lingers after its last burst, and an order that arrives while
    # it waits (placed during its first pause)
    settings.OMS_SUBMIT_LINGER_MS = 300
    settings.OMS_SUBMIT_POLL_MS = 10
    arrived: list[Order] = []
    real_sleep = submit_burst.time.sleep

    def sleep_and_receive(seconds):
        if not arrived:
            arrived.append(place(trader, paper, order_type="market", limit_price=None, qty="3"))
        real_sleep(seconds)

    monkeypatch.setattr(submit_burst.time, "sleep", sleep_and_receive)
    key = submit_burst.WAKE_KEY.format(slot=0)
    submit_burst.cache.set(key, 1)
    # when the drain task runs with nothing pending at first
    sizes = submit_burst.orders_submit_drain(slot=0)
    # then the same task sent the late order, and freed its slot on leaving
    assert sizes == [1]
    arrived[0].refresh_from_db()
    assert arrived[0].status == OrderStatus.FILLED
    assert submit_burst.cache.get(key) is None


def test_an_inline_drain_never_lingers(settings):
    # given tasks run inline (no broker: the drain runs in the committing caller)
    settings.OMS_SUBMIT_LINGER_MS = 5000
    # then the drainer does not wait for more orders after its last burst
    assert celery_app.conf.task_always_eager
    assert submit_burst.linger_s() == 0.0
