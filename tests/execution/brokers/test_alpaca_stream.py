"""The Alpaca stream follower against the fake: updates mapped to execution reports, faults
of the stream (duplicates, out of order, lost events, drops) and orders placed outside OMS."""

from __future__ import annotations

import queue
import time
from decimal import Decimal

import pytest

from accounts.models import BrokerConnection
from execution import registry
from execution.protocol import ModifyRequest, ReportType
from execution.services import broker_cancel, broker_modify, broker_submit
from orders.core.reports import order_apply_reports
from orders.models import Order, OrderStatus, ProcessedReport
from pnl.models import Fill
from tests.execution.brokers.alpaca_support import *  # noqa: F403 - its fixtures
from tests.execution.brokers.alpaca_support import OMS_SYMBOL, make_connection
from tests.execution.factories import order_request
from tests.factories import TradingAccountFactory, UserFactory, account_with_member
from tests.polling import read_while_written, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

OUTSIDE = {"symbol": "AAPL", "qty": "1", "side": "sell", "type": "market", "time_in_force": "day"}


def request(account, **kwargs):
    kwargs.setdefault("side", "buy")
    kwargs.setdefault("qty", "10")
    return order_request(broker="alpaca", account_id=str(account.pk), symbol=OMS_SYMBOL, **kwargs)


def test_place_partial_fill_modify_fill_and_cancel_come_back_as_reports(
    account, broker, control, follow, sink
):
    follow(account)
    order = request(account, type="limit", limit_price="189.50")
    [ack] = broker_submit(order)
    first = ack.broker_order_id
    control("POST", f"/orders/{first}/fill", {"qty": "4", "price": "189.50"})
    [replaced] = broker_modify(
        ModifyRequest(
            order_id=order.order_id,
            account_id=str(account.pk),
            symbol=OMS_SYMBOL,
            new_limit_price=Decimal("189.40"),
            version=2,
            broker="alpaca",
        )
    )
    control.quote(bid="189.20", ask="189.30")  # crosses the new limit: the 6 left fill
    other = request(account, type="limit", limit_price="150", qty="1")
    broker_submit(other)
    broker_cancel(
        order_id=other.order_id, account_id=str(account.pk), symbol=OMS_SYMBOL, broker="alpaca"
    )
    wait_for(lambda: sink.types(other.order_id) == [ReportType.ACK, ReportType.CANCELED])
    # then the stream told OMS, in order, with the ids the synchronous answers had
    mine = sink.of(order.order_id)
    assert [r.type for r in mine] == ["ack", "partial_fill", "replaced", "fill"]
    assert mine[0].report_id == ack.report_id and mine[2].report_id == replaced.report_id
    partial, fill = mine[1], mine[3]
    assert (partial.fill_qty, partial.fill_price, partial.leaves_qty) == (4, Decimal("189.5"), 6)
    assert (partial.report_id, partial.broker_order_id) == (f"alp-{first}-4", first)
    assert (fill.fill_qty, fill.fill_price, fill.leaves_qty) == (6, Decimal("189.3"), 0)
    assert fill.broker_order_id == replaced.broker_order_id != first
    assert fill.trade_id == f"{replaced.broker_order_id}:6"
    assert mine[2].data["new_qty"] == "10" and mine[2].data["new_limit_price"] == "189.4"


def test_an_order_placed_outside_oms_is_reported_as_external(
    account, broker, control, follow, sink
):
    follow(account)
    outside = control("POST", "/outside/orders", OUTSIDE)
    wait_for(lambda: len(sink.of("")) == 2)
    ack, fill = sink.of("")
    assert (ack.type, fill.type) == (ReportType.ACK, ReportType.FILL)
    assert ack.data["external"] is True and ack.data["order"]["id"] == outside["id"]
    assert fill.data["external"] is True and fill.data["order"]["side"] == "sell"
    assert (fill.fill_qty, fill.fill_price, fill.broker_order_id) == (
        1,
        Decimal("189.9"),
        outside["id"],
    )


def test_what_happened_while_oms_was_not_following_is_caught_up_on_start(
    account, broker, control, follow, sink
):
    ours = request(account, type="market", qty="2")
    broker_submit(ours)
    outside = control("POST", "/outside/orders", OUTSIDE)
    follow(account)  # connects, then catches up before it counts as connected
    assert sink.types(ours.order_id) == [ReportType.ACK, ReportType.FILL]
    [ack, fill] = sink.of("")
    assert (ack.type, fill.type, fill.broker_order_id) == ("ack", "fill", outside["id"])
    assert fill.data["external"] is True and fill.data["activity"]["side"] == "sell"


def test_lost_events_are_caught_up_after_the_stream_drops_and_comes_back(
    account, broker, control, follow, sink
):
    follower = follow(account)
    control.fault(kind="lose_events", count=2)  # the order's new + fill never arrive
    order = request(account, type="market", qty="3")
    broker_submit(order)
    control("POST", "/stream/drop", {})
    wait_for(lambda: follower.follower.connects >= 2)
    assert sink.types(order.order_id) == [ReportType.ACK, ReportType.FILL]
    [fill] = sink.of(order.order_id, ReportType.FILL)
    assert (fill.fill_qty, fill.fill_price) == (3, Decimal("190.1"))


def test_the_periodic_catch_up_finds_what_the_stream_lost(fake, instrument, broker, follow, sink):
    account = TradingAccountFactory(
        broker="alpaca", connection=make_connection(fake, catchup_s=0.2), currency="USD"
    )
    follower = follow(account)
    from tests.execution.brokers.alpaca_support import FakeControl

    FakeControl(fake).fault(kind="lose_events", count=2)
    order = request(account, type="market", qty="2")
    broker_submit(order)
    wait_for(lambda: sink.types(order.order_id) == [ReportType.ACK, ReportType.FILL])
    assert follower.follower.connects == 1


def test_the_stream_refusing_the_key_marks_the_connection_error(fake, instrument, broker, follow):
    wrong = TradingAccountFactory(
        broker="alpaca", connection=make_connection(fake, secret_key="nope")
    )
    follow(wrong, connected=False)
    connection = BrokerConnection.objects.filter(pk=wrong.connection_id)
    # The stream thread writes the connection while this one polls it (SQLite: one at once).
    states: list[tuple[str, str]] = []

    def errored() -> bool:
        state = read_while_written(lambda: connection.values_list("status", "last_error").get())
        if state is not None:
            states.append(state)
        return state is not None and state[0] == "error"

    wait_for(errored)
    assert "refused the key" in states[-1][1]


@pytest.fixture
def relay():
    """The stream's report bursts, applied by the orders service in the TEST thread (SQLite's
    shared in-memory test database cannot take writes from two threads at once)."""
    bursts: queue.Queue = queue.Queue()
    sinks = registry.REPORT_SINKS.overridden({bursts.put: bursts.put})
    sinks.__enter__()

    def pump(until) -> None:
        deadline = time.monotonic() + 10
        while not until():
            assert time.monotonic() < deadline, "timed out waiting"
            try:
                order_apply_reports(bursts.get(timeout=0.05))
            except queue.Empty:
                continue

    def quiet(seconds: float) -> None:
        """Apply what arrives until nothing did for `seconds`."""
        while True:
            try:
                order_apply_reports(bursts.get(timeout=seconds))
            except queue.Empty:
                return

    pump.quiet = quiet
    yield pump
    sinks.__exit__(None, None, None)


def test_duplicate_and_out_of_order_updates_change_oms_once(
    fake, instrument, broker, control, follow, tick, relay
):
    # given an Alpaca account in OMS followed on the stream, applying to real orders
    trader = UserFactory(username="alpaca-trader", role="trader")
    account = account_with_member(
        user=trader,
        broker="alpaca",
        connection=make_connection(fake),
        currency="USD",
        cash=Decimal("100000"),
    )
    tick(OMS_SYMBOL, last="190.00", bid="189.90", ask="190.10")
    follow(account)
    control.fault(kind="duplicate", count=20)
    control.fault(kind="out_of_order", count=2)
    # when a limit order is placed through OMS, filled 4 then 6 at Alpaca
    from orders.core.place import order_place

    placed = order_place(
        user=trader,
        account_id=account.pk,
        symbol=OMS_SYMBOL,
        side="buy",
        order_type="limit",
        qty=Decimal("10"),
        limit_price=Decimal("189.50"),
    )
    order_id = placed.order.pk
    broker_id = Order.objects.get(pk=order_id).broker_order_id
    assert broker_id  # acknowledged by the submission's answer
    control("POST", f"/orders/{broker_id}/fill", {"qty": "4", "price": "189.50"})
    control.quote(bid="189.20", ask="189.40")
    relay(lambda: Order.objects.get(pk=order_id).status == OrderStatus.FILLED)
    relay.quiet(0.5)  # the repeats still on their way
    # then each fill is booked once, whatever the stream repeated or reordered
    order = Order.objects.get(pk=order_id)
    assert (order.filled_qty, order.avg_fill_price) == (Decimal("10"), Decimal("189.44"))
    fills = Fill.objects.filter(order_id=order_id).order_by("qty")
    assert [(f.qty, f.price) for f in fills] == [
        (Decimal("4"), Decimal("189.50")),
        (Decimal("6"), Decimal("189.40")),
    ]
    applied = ProcessedReport.objects.filter(order_id=order_id, outcome="applied")
    assert sorted(applied.values_list("type", flat=True)) == ["ack", "fill", "partial_fill"]
