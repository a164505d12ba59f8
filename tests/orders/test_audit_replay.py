"""The audit trail of every order replays to its stored state, whatever happened to it;
and concurrent writers (a fill racing a cancel) leave a consistent, replayable order."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.utils import timezone

from execution.protocol import ReportType
from oms_site.errors import InvalidState, RiskRejected
from orders.core.lifecycle import order_replay, order_state
from orders.models import Order, OrderStatus
from orders.services import (
    order_apply_report,
    order_cancel,
    order_modify,
    orders_expire_due,
)
from pnl.models import Fill
from tests.orders.factories import place
from tests.orders.fakes import report

pytestmark = pytest.mark.django_db


def test_every_order_of_a_busy_session_replays_to_its_state(
    trader, account, limits, quoted, tick, fake_broker, submit
):
    limits.allow_short = True
    limits.max_order_qty = Decimal("1000")
    limits.save()

    def step(fn, *args, mode=None, **kwargs):
        # each step commits on its own: what it defers to commit (submissions) runs now
        if mode:
            fake_broker.mode = mode
        with submit():
            return fn(*args, **kwargs)

    # filled at once; partially filled then canceled; modified twice; rejected by risk
    step(place, trader, account, qty="3", mode="fill")
    partial = step(place, trader, account, qty="10", mode="partial")
    # (gtc: a day order would expire at the session close the expiry step below may pass)
    working = step(
        place, trader, account, qty="5", limit_price="99", time_in_force="gtc", mode="ack"
    )
    step(order_modify, user=trader, order_id=working.pk, qty=Decimal("6"))
    step(order_modify, user=trader, order_id=working.pk, limit_price=Decimal("98.5"))
    with pytest.raises(RiskRejected):
        step(place, trader, account, qty="5000")
    step(order_cancel, user=trader, order_id=partial.pk)
    # stops: one triggered and filled, one trailing (moved, then fired), one expired
    stop = step(place, trader, account, order_type="stop", limit_price=None, stop_price="102")
    trailing = step(
        place,
        trader,
        account,
        side="sell",
        order_type="trailing_stop",
        limit_price=None,
        trail_price="1",
    )
    step(
        place,
        trader,
        account,
        order_type="stop",
        limit_price=None,
        stop_price="150",
        time_in_force="gtd",
        expire_at=timezone.now() + timedelta(hours=1),
    )
    step(tick, last="101")
    step(tick, last="102", mode="fill")
    step(tick, last="100.5")
    step(orders_expire_due, now=timezone.now() + timedelta(hours=2))
    # a late duplicate of a fill changes nothing
    first_fill = Fill.objects.get(order_id=stop.pk)
    assert (
        order_apply_report(
            report(
                stop.pk,
                ReportType.FILL,
                report_id=first_fill.report_id,
                fill_qty=first_fill.qty,
                fill_price=first_fill.price,
            )
        )
        == "duplicate"
    )

    statuses = set()
    for order in Order.objects.all():
        events = list(order.events.order_by("seq"))
        assert order_replay(events) == order_state(order), order
        statuses.add(order.status)
    assert {"filled", "canceled", "rejected", "expired", "new"} <= statuses
    trailing.refresh_from_db()
    assert trailing.events.filter(type="stop_moved").exists()
    assert trailing.status == OrderStatus.FILLED


@pytest.mark.django_db(transaction=True)
def test_fill_racing_a_cancel_on_two_connections_ends_consistent(
    trader, account, quoted, fake_broker, django_capture_on_commit_callbacks
):
    if connection.vendor != "mysql":
        pytest.skip("needs real row locks: run with DATABASE_URL=mysql://…")
    order = place(trader, account)  # transaction=True: submitted on commit already
    order.refresh_from_db()
    assert order.status == OrderStatus.NEW
    fake_broker.cancel_mode = "silent"  # the venue answers the cancel later
    barrier = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def fill():
        try:
            barrier.wait()
            outcome["fill"] = order_apply_report(
                report(order.pk, ReportType.FILL, fill_qty=Decimal("10"), fill_price=Decimal("100"))
            )
        finally:
            connections.close_all()

    def cancel():
        try:
            barrier.wait()
            outcome["cancel"] = order_cancel(user=trader, order_id=order.pk).status
        except InvalidState as exc:
            outcome["cancel"] = exc.code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=fill), threading.Thread(target=cancel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    order.refresh_from_db()
    # whichever came first, the fill stands and the order ends filled
    assert outcome["fill"] == "applied"
    # (the cancel's answer is the order as it stands when the call returns: when the fill
    # committed while the cancel waited for the venue, that is already `filled`)
    assert outcome["cancel"] in ("invalid_state", OrderStatus.PENDING_CANCEL, OrderStatus.FILLED)
    assert order.status == OrderStatus.FILLED and order.filled_qty == 10
    assert Fill.objects.filter(order_id=order.pk).count() == 1
    assert order_replay(order.events.order_by("seq")) == order_state(order)
