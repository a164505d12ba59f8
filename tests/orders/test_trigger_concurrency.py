"""Exactly-once firing with several evaluators: two threads (two DB connections, like two
worker processes) evaluate the same ticks at once — stops, GTTs and bracket legs each
fire once. Needs real row locks: MariaDB/MySQL (skipped on SQLite)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.utils import timezone

from marketdata.listeners import AppliedTick
from orders.automation.gtt import gtt_create
from orders.automation.ticks import triggers_on_tick
from orders.models import Gtt, Order, Trigger
from tests.orders.factories import place

pytestmark = pytest.mark.django_db(transaction=True)


def applied(last: str) -> AppliedTick:
    return AppliedTick(
        symbol="ACME", last=Decimal(last), bid=None, ask=None, volume=Decimal(1), ts=timezone.now()
    )


def run_concurrently(target, count: int = 2) -> list:
    barrier = threading.Barrier(count)
    results: list = []
    errors: list[BaseException] = []

    def work():
        try:
            barrier.wait()
            results.append(target())
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def test_two_evaluators_fire_every_trigger_exactly_once(trader, account, quoted, fake_broker):
    if connection.vendor != "mysql":
        pytest.skip("needs real row locks: run with DATABASE_URL=mysql://…")
    # given three buy stops and three GTTs that one tick at 106 crosses
    stops = [
        place(trader, account, order_type="stop", limit_price=None, stop_price=price)
        for price in ("104", "105", "106")
    ]
    gtts = [
        gtt_create(
            user=trader,
            account_id=account.pk,
            symbol="ACME",
            trigger_type="single",
            trigger_values=[value],
            orders=[{"side": "buy", "qty": "1", "type": "market"}],
        )
        for value in ("103", "104.5", "105.5")
    ]

    # when two evaluators each see the tick twice (a duplicated tick), at the same time
    def evaluate():
        return triggers_on_tick(applied("106")) + triggers_on_tick(applied("106"))

    results = run_concurrently(evaluate)

    # then every trigger fired once: 3 released stops + 3 GTT orders, no duplicates
    released = [order_id for result in results for order_id in result]
    assert len(released) == len(set(released)) == 6
    for stop in stops:
        stop.refresh_from_db()
        assert stop.events.filter(type="triggered").count() == 1
        assert stop.status == "new"
    for gtt in gtts:
        gtt.refresh_from_db()
        assert gtt.status == "triggered" and len(gtt.order_ids) == 1
        assert Order.objects.filter(gtt=gtt).count() == 1
        assert gtt.events.filter(type="triggered").count() == 1
    assert Trigger.objects.filter(status="active").count() == 0
    assert len(fake_broker.submitted) == 6
    assert Gtt.objects.filter(status="triggered").count() == 3
