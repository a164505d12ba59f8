"""End to end against the Alpaca fake: an order placed in the broker's own app (the fake's
"outside" endpoint) reaches OMS on the stream or the catch-up, is imported as external with
its fill booked once, and reconciliation afterwards finds nothing to add or to flag."""

from __future__ import annotations

import queue
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from execution import registry
from execution.broker_sync import broker_orders_check
from orders.core.reports import order_apply_reports
from orders.core.selectors import orders_at_broker
from orders.models import Order
from pnl.models import Fill, Position
from tests.execution.brokers.alpaca_support import *  # noqa: F403 - its fixtures
from tests.execution.brokers.alpaca_support import OMS_SYMBOL

pytestmark = pytest.mark.django_db(transaction=True)

OUTSIDE = {"symbol": "AAPL", "qty": "3", "side": "buy", "type": "market", "time_in_force": "day"}


@pytest.fixture
def relay():
    """The stream's report bursts applied by the orders service in the TEST thread (SQLite's
    shared in-memory test database cannot take writes from two threads at once)."""
    bursts: queue.Queue = queue.Queue()
    with registry.REPORT_SINKS.overridden({bursts.put: bursts.put}):

        def pump(until) -> None:
            deadline = time.monotonic() + 10
            while not until():
                assert time.monotonic() < deadline, "timed out waiting"
                try:
                    order_apply_reports(bursts.get(timeout=0.05))
                except queue.Empty:
                    continue

        def quiet(seconds: float = 0.5) -> None:
            while True:
                try:
                    order_apply_reports(bursts.get(timeout=seconds))
                except queue.Empty:
                    return

        pump.quiet = quiet
        yield pump


def _imported(account) -> Order | None:
    return Order.objects.filter(account=account, external=True, status="filled").first()


def _reconcile(account):
    now = timezone.now()
    return broker_orders_check(
        account_id=str(account.pk),
        broker="alpaca",
        ours=orders_at_broker,
        now=now,
        fills_since=now - timedelta(days=1),
    )


def _assert_imported_once(account, outside: dict) -> None:
    [order] = Order.objects.filter(account=account)
    assert order.external and order.broker_order_id == outside["id"]
    assert (order.symbol, order.side, order.qty, order.filled_qty) == (OMS_SYMBOL, "buy", 3, 3)
    [fill] = Fill.objects.filter(account=account)
    assert fill.report_id == f"ext-alpaca-{outside['id']}:3" and fill.order_id == order.pk
    assert Position.objects.get(account=account, symbol=OMS_SYMBOL).qty == Decimal("3")


def test_an_order_placed_in_alpacas_app_is_imported_from_the_stream(
    account, broker, control, follow, relay
):
    # given OMS follows the account's stream
    follow(account)
    # when an order is placed (and filled) in the broker's own app
    outside = control("POST", "/outside/orders", OUTSIDE)
    relay(lambda: _imported(account) is not None)
    relay.quiet()
    # then OMS holds it once, external, its fill booked into the position
    _assert_imported_once(account, outside)
    # and reconciliation afterwards imports nothing more and raises no difference
    check = _reconcile(account)
    assert check.imported and check.differences == []
    _assert_imported_once(account, outside)


def test_an_order_placed_while_oms_was_not_following_is_imported_by_the_catch_up(
    account, broker, control, follow, relay
):
    # given an order placed and filled in the broker's app before OMS followed the stream
    outside = control("POST", "/outside/orders", OUTSIDE)
    # when the stream starts (it catches up first) and reconciliation runs too
    follow(account)
    relay(lambda: _imported(account) is not None)
    relay.quiet()
    check = _reconcile(account)
    # then it is there once, whichever path saw it first
    assert check.differences == []
    _assert_imported_once(account, outside)


def test_reconciliation_alone_imports_an_outside_order(account, broker, control):
    # given an order placed and filled in the broker's app, no stream followed
    outside = control("POST", "/outside/orders", OUTSIDE)
    # when the account is reconciled (twice: the next minute's run)
    first, second = _reconcile(account), _reconcile(account)
    # then it is imported once
    assert first.imported and first.differences == [] and second.differences == []
    _assert_imported_once(account, outside)
