"""Beat jobs: the pending_new sweeper, day/gtd expiry, release of orders queued for the open."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.core.lifecycle import order_replay, order_state
from orders.models import Order, OrderStatus
from orders.services import (
    orders_expire_due,
    orders_release_queued_for_open,
    orders_sweep_pending_new,
)
from tests.marketdata.factories import InstrumentFactory, NseExchangeFactory
from tests.orders.factories import place

pytestmark = pytest.mark.django_db


def later(**delta) -> datetime:
    return timezone.now() + timedelta(**delta)


# --- sweeper --------------------------------------------------------------------------------------


def test_sweeper_sends_an_order_whose_submission_was_lost(trader, account, quoted, fake_broker):
    # given an order committed but never submitted (the worker died after the commit)
    order = place(trader, account)
    assert order.status == OrderStatus.PENDING_NEW and fake_broker.submitted == []
    # when the sweeper runs before the grace period, nothing happens
    assert orders_sweep_pending_new(now=later(seconds=1)) == []
    # when it runs after it, the order is re-enqueued and reaches the venue
    assert orders_sweep_pending_new(now=later(minutes=1)) == [str(order.pk)]
    order.refresh_from_db()
    assert order.status == OrderStatus.NEW
    assert len(fake_broker.submitted) == 1
    assert order_replay(order.events.order_by("seq")) == order_state(order)


def test_a_rescued_order_says_in_its_audit_trail_that_it_was_re_sent_and_why(
    trader, account, quoted, fake_broker, make_key_client, client
):
    # given an order committed whose first submission never committed (its worker died)
    order = place(trader, account)
    # when the sweeper sends it
    orders_sweep_pending_new(now=later(minutes=1))
    # then its trail shows a re-send by the sweeper with the reason, not a plain "submitted"
    response = make_key_client(trader).get(f"/api/v1/orders/{order.pk}/events")
    events = response.json()["results"]
    assert [event["type"] for event in events] == ["created", "resubmitted", "accepted"]
    resent = events[1]
    assert resent["data"]["reason"].startswith("pending_new for ")
    assert "no submission committed" in resent["data"]["reason"]
    assert resent["data"]["earlier_attempt_recorded"] is False
    order.refresh_from_db()
    assert order_replay(order.events.order_by("seq")) == order_state(order)
    # and the order page carries that event and its reason into its audit trail
    client.force_login(trader)
    page = client.get(f"/orders/{order.pk}/")
    assert page.status_code == 200
    assert '"resubmitted"' in page.content.decode()
    assert resent["data"]["reason"] in page.content.decode()


def test_sweeper_resends_an_order_the_venue_never_answered(
    trader, account, quoted, fake_broker, submit
):
    fake_broker.mode = "silent"
    with submit():
        order = place(trader, account)
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_NEW and order.submitted_at is not None
    fake_broker.mode = "ack"
    orders_sweep_pending_new(now=later(minutes=1))
    order.refresh_from_db()
    assert order.status == OrderStatus.NEW
    assert [r.order_id for r in fake_broker.submitted] == [str(order.pk)] * 2
    assert order.events.filter(type="resubmitted").count() == 1


def test_sweeper_leaves_answered_orders_alone(trader, account, quoted, fake_broker, submit):
    with submit():
        place(trader, account)
    assert orders_sweep_pending_new(now=later(minutes=5)) == []
    assert len(fake_broker.submitted) == 1


def test_submission_with_the_broker_down_rejects_the_order(
    trader, account, quoted, fake_broker, submit
):
    fake_broker.mode = "unavailable"
    with submit():
        order = place(trader, account)
    order.refresh_from_db()
    assert order.status == OrderStatus.REJECTED
    assert order.reject_reason.startswith("broker_unavailable")


def test_submit_task_is_a_no_op_for_a_vanished_or_answered_order(
    trader, account, quoted, fake_broker
):
    from orders.tasks import order_submit_task

    assert order_submit_task("00000000-0000-0000-0000-000000000000") == []
    order = place(trader, account, order_type="stop", limit_price=None, stop_price="105")
    assert order_submit_task(str(order.pk)) == []  # held: not pending_new
    assert fake_broker.submitted == []


# --- expiry ---------------------------------------------------------------------------------------


def test_day_order_expires_at_the_end_of_the_sim_utc_day(
    trader, account, quoted, fake_broker, submit
):
    with submit():
        order = place(trader, account)
    order.refresh_from_db()
    now = timezone.now().astimezone(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=UTC)
    assert order.good_till == midnight
    assert orders_expire_due(now=midnight - timedelta(seconds=1)) == []
    assert orders_expire_due(now=midnight) == [str(order.pk)]
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
    assert fake_broker.canceled == [str(order.pk)]  # the venue was told
    assert order_replay(order.events.order_by("seq")) == order_state(order)


def test_gtd_order_expires_at_its_time_and_gtc_never(trader, account, quoted, fake_broker):
    expire_at = later(hours=1)
    gtd = place(
        trader,
        account,
        order_type="stop",
        limit_price=None,
        stop_price="105",
        time_in_force="gtd",
        expire_at=expire_at,
    )
    gtc = place(
        trader, account, order_type="stop", limit_price=None, stop_price="106", time_in_force="gtc"
    )
    assert orders_expire_due(now=later(days=400)) == [str(gtd.pk)]
    gtd.refresh_from_db()
    assert gtd.status == OrderStatus.EXPIRED
    assert gtd.triggers.get().status == "canceled"
    assert Order.objects.get(pk=gtc.pk).status == OrderStatus.HELD
    assert fake_broker.canceled == []  # held orders never reached the venue


# --- queued for the open ----------------------------------------------------------------


def test_order_queued_outside_hours_is_released_at_the_open(trader, account, fake_broker, submit):
    exchange = NseExchangeFactory(
        trading_weekdays="", holiday_calendar="", open_time=time(9, 15), close_time=time(15, 30)
    )
    InstrumentFactory(symbol="INFY", exchange=exchange, tick_size=Decimal("0.05"))
    account.allow_after_market_orders = True
    account.save()
    order = place(trader, account, symbol="INFY")
    assert order.status == OrderStatus.HELD and order.hold_reason == "queued_for_open"
    # still closed: stays queued
    assert orders_release_queued_for_open() == []
    # the market opens
    exchange.always_open = True
    exchange.save()
    with submit():
        assert orders_release_queued_for_open() == [str(order.pk)]
    order.refresh_from_db()
    assert order.status == OrderStatus.NEW and order.hold_reason == ""
    assert [r.order_id for r in fake_broker.submitted] == [str(order.pk)]
    assert order_replay(order.events.order_by("seq")) == order_state(order)


def test_beat_schedule_lists_the_orders_jobs():
    from oms_site.celery import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {
        "orders.sweep_pending_new",
        "orders.expire_due",
        "orders.release_queued_for_open",
    } <= tasks


def test_beat_schedule_purges_idempotency_keys_once_for_every_app():
    # given the beat schedule collected from every app
    from oms_site.celery import app

    # when its tasks are listed
    tasks = [entry["task"] for entry in app.conf.beat_schedule.values()]
    # then the one table of Idempotency-Key answers (orders' too) is purged by one job
    purges = [task for task in tasks if task.endswith("purge_idempotency_keys")]
    assert purges == ["accounts.purge_idempotency_keys"]


def test_old_idempotency_keys_of_order_posts_are_purged(client, account, quoted, fake_broker):
    from accounts.models import IdempotencyKey
    from accounts.tasks import purge_idempotency_keys
    from tests.orders.conftest import order_body

    # given an order POST under a key two days old and one under a fresh key
    client.post("/api/v1/orders", order_body(account), format="json", HTTP_IDEMPOTENCY_KEY="old")
    client.post("/api/v1/orders", order_body(account), format="json", HTTP_IDEMPOTENCY_KEY="fresh")
    IdempotencyKey.objects.filter(key="old").update(created_at=later(days=-2))
    # when the purge job runs
    deleted = purge_idempotency_keys()
    # then only the old key is gone
    assert deleted == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]
