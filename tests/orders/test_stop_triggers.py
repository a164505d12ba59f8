"""Stops held by OMS and released by ticks: indexed crossing, exactly-once firing, trailing."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.utils import timezone

from accounts.models import GlobalKillSwitch
from marketdata.listeners import AppliedTick
from orders.automation.ticks import crossed_trigger_ids, triggers_on_tick
from orders.core.lifecycle import order_replay, order_state
from orders.models import Order, OrderStatus, Trigger
from tests.orders.factories import place

pytestmark = pytest.mark.django_db


def applied(last: str, symbol: str = "ACME") -> AppliedTick:
    return AppliedTick(
        symbol=symbol,
        last=Decimal(last),
        bid=None,
        ask=None,
        volume=Decimal("1"),
        ts=timezone.now(),
    )


@pytest.fixture
def short_ok(limits):
    limits.allow_short = True
    limits.save()
    return limits


def test_buy_stop_is_held_until_the_price_rises_to_it(
    trader, account, quoted, tick, fake_broker, submit
):
    # given a buy stop at 105 with the market at 100
    order = place(trader, account, order_type="stop", limit_price=None, stop_price="105")
    assert order.status == OrderStatus.HELD and order.hold_reason == "trigger"
    trigger = Trigger.objects.get(order=order)
    assert (trigger.direction, trigger.price, trigger.status) == ("up", Decimal("105"), "active")
    # when the price rises but not to the stop, nothing happens
    with submit():
        tick(last="104.95")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.HELD
    # when it reaches the stop, the order is released as a market order and sent
    with submit():
        tick(last="105")
    order.refresh_from_db()
    assert order.status == OrderStatus.NEW
    assert [r.type for r in fake_broker.submitted] == ["market"]
    trigger.refresh_from_db()
    assert trigger.status == "fired" and trigger.fired_price == Decimal("105")
    types = list(order.events.order_by("seq").values_list("type", flat=True))
    assert types == ["created", "triggered", "submitted", "accepted"]


def test_sell_stop_limit_fires_on_the_way_down_as_a_limit_order(
    trader, account, short_ok, quoted, tick, fake_broker, submit
):
    order = place(
        trader, account, side="sell", order_type="stop_limit", stop_price="95", limit_price="94.5"
    )
    with submit():
        tick(last="94")  # gapped through the stop
    order.refresh_from_db()
    assert order.status == OrderStatus.NEW
    sent = fake_broker.submitted[0]
    assert (sent.type, sent.limit_price, sent.side) == ("limit", Decimal("94.5"), "sell")


def test_the_same_tick_evaluated_twice_fires_once(trader, account, quoted, fake_broker, submit):
    order = place(trader, account, order_type="stop", limit_price=None, stop_price="105")
    with submit():
        first = triggers_on_tick(applied("106"))
        second = triggers_on_tick(applied("106"))
    assert first == [str(order.pk)] and second == []
    order.refresh_from_db()
    assert order.events.filter(type="triggered").count() == 1
    assert len(fake_broker.submitted) == 1


def test_crossed_triggers_are_found_by_range_in_market_order(trader, account, short_ok, quoted):
    up_far = place(trader, account, order_type="stop", limit_price=None, stop_price="110")
    up_near = place(trader, account, order_type="stop", limit_price=None, stop_price="105")
    down = place(trader, account, side="sell", order_type="stop", limit_price=None, stop_price="90")
    ids = {t.order_id: t.pk for t in Trigger.objects.all()}
    assert crossed_trigger_ids(symbol="ACME", last=Decimal("100")) == []
    assert crossed_trigger_ids(symbol="ACME", last=Decimal("111")) == [
        ids[up_near.pk],
        ids[up_far.pk],
    ]
    assert crossed_trigger_ids(symbol="ACME", last=Decimal("90")) == [ids[down.pk]]
    assert crossed_trigger_ids(symbol="OTHER", last=Decimal("1000")) == []


def test_crossing_query_uses_the_trigger_index():
    plan = Trigger.objects.filter(
        symbol="ACME", status="active", direction="up", price__lte=Decimal("100")
    ).explain()
    if connection.vendor == "sqlite":
        assert "trigger_crossing" in plan
    else:
        assert "trigger_crossing" in plan  # listed among the possible keys at least


def test_canceled_stop_never_fires(client, trader, account, quoted, fake_broker, submit):
    order = place(trader, account, order_type="stop", limit_price=None, stop_price="105")
    client.delete(f"/api/v1/orders/{order.pk}")
    with submit():
        assert triggers_on_tick(applied("120")) == []
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELED
    assert fake_broker.submitted == []


def test_released_order_goes_through_the_risk_checks(trader, account, quoted, fake_broker, submit):
    order = place(trader, account, order_type="stop", limit_price=None, stop_price="105")
    GlobalKillSwitch.objects.update_or_create(pk=1, defaults={"engaged": True})
    with submit():
        triggers_on_tick(applied("105"))
    order.refresh_from_db()
    assert order.status == OrderStatus.REJECTED
    assert order.reject_reason.startswith("kill_switch:")
    assert fake_broker.submitted == []
    assert order_replay(order.events.order_by("seq")) == order_state(order)


def test_trailing_stop_is_held_with_its_stop_and_follows_the_market(
    trader, account, short_ok, quoted, tick, fake_broker, submit
):
    # given a sell trailing stop 2.00 below the market at 100
    order = place(
        trader, account, side="sell", order_type="trailing_stop", limit_price=None, trail_price="2"
    )
    assert order.status == OrderStatus.HELD and order.stop_price == Decimal("98")
    # when the market rises to 103 the stop follows to 101 (never back down)
    tick(last="103")
    tick(last="102")
    order.refresh_from_db()
    assert order.stop_price == Decimal("101")
    assert order.events.filter(type="stop_moved").count() == 1
    # when it falls to the stop, the order is released as a market sell
    with submit():
        tick(last="101")
    order.refresh_from_db()
    assert order.status == OrderStatus.NEW
    assert fake_broker.submitted[0].type == "market"
    assert order_replay(order.events.order_by("seq")) == order_state(order)


def test_trailing_stop_by_percent_on_a_buy(trader, account, quoted):
    order = place(
        trader, account, order_type="trailing_stop", limit_price=None, trail_percent="1.5"
    )
    # 100 × 1.015 = 101.5, rounded up to the 0.05 tick
    assert order.stop_price == Decimal("101.5")
    assert Trigger.objects.get(order=order).direction == "up"


def test_modifying_the_trail_recomputes_the_stop_from_the_mark(
    client, trader, account, short_ok, quoted, tick
):
    order = place(
        trader, account, side="sell", order_type="trailing_stop", limit_price=None, trail_price="2"
    )
    tick(last="104")
    response = client.patch(f"/api/v1/orders/{order.pk}", {"trail_percent": "5"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    # 104 × 0.95 = 98.8
    assert body["trail_percent"] == "5" and body["trail_price"] is None
    assert body["stop_price"] == "98.8"
    assert Trigger.objects.get(order=order).price == Decimal("98.8")
    order.refresh_from_db()
    assert order_replay(order.events.order_by("seq")) == order_state(order)


@pytest.mark.django_db(transaction=True)
def test_two_processes_evaluating_one_tick_fire_once(trader, account, quoted, fake_broker):
    if connection.vendor != "mysql":
        pytest.skip("needs real row locks: run with DATABASE_URL=mysql://…")
    order = place(trader, account, order_type="stop", limit_price=None, stop_price="105")
    barrier = threading.Barrier(2)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def evaluate():
        try:
            barrier.wait()
            results.append(triggers_on_tick(applied("106")))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(len(r) for r in results) == [0, 1]
    order.refresh_from_db()
    assert order.events.filter(type="triggered").count() == 1
    assert len(fake_broker.submitted) == 1
    assert order.status == OrderStatus.NEW
