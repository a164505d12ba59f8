"""order_apply_report: idempotent per report id, fills into the ledger, cancel racing fills."""

from __future__ import annotations

from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from execution import registry as execution_registry
from execution.protocol import ReportType
from orders.core.lifecycle import order_replay, order_state
from orders.models import Order, OrderEvent, OrderStatus, ProcessedReport
from orders.services import order_apply_report, order_cancel
from pnl.models import Fill
from tests.orders.factories import place
from tests.orders.fakes import report

pytestmark = pytest.mark.django_db


@pytest.fixture
def working(trader, account, quoted, fake_broker, submit):
    """A limit buy of 10 @ 100 acknowledged by the venue (status new)."""
    with submit():
        order = place(trader, account)
    order.refresh_from_db()
    assert order.status == OrderStatus.NEW
    return order


def snapshot(order: Order) -> tuple:
    order.refresh_from_db()
    return (
        order.status,
        order.filled_qty,
        order.avg_fill_price,
        order.event_seq,
        Fill.objects.filter(order_id=order.pk).count(),
    )


def fill(order, qty, price, **kw):
    return report(
        order.pk,
        kw.pop("type", ReportType.PARTIAL_FILL),
        fill_qty=Decimal(qty),
        fill_price=Decimal(price),
        **kw,
    )


def test_partial_then_full_fill_books_fills_and_an_exact_average(working):
    assert (
        order_apply_report(fill(working, "3", "100", fee=Decimal("0.5"), liquidity="maker"))
        == "applied"
    )
    working.refresh_from_db()
    assert working.status == OrderStatus.PARTIALLY_FILLED
    assert order_apply_report(fill(working, "7", "99.95", type=ReportType.FILL)) == "applied"
    working.refresh_from_db()
    assert working.status == OrderStatus.FILLED
    assert working.filled_qty == Decimal("10")
    # (3 × 100 + 7 × 99.95) / 10 = 99.965
    assert working.avg_fill_price == Decimal("99.965")
    assert working.filled_at is not None
    fills = list(Fill.objects.filter(order_id=working.pk).order_by("qty"))
    assert [(f.qty, f.price, f.side, f.symbol) for f in fills] == [
        (Decimal("3"), Decimal("100"), "buy", "ACME"),
        (Decimal("7"), Decimal("99.95"), "buy", "ACME"),
    ]
    assert fills[0].fee == Decimal("0.5") and fills[0].liquidity == "maker"
    assert order_replay(working.events.order_by("seq")) == order_state(working)


def test_the_same_report_twice_changes_nothing(working):
    first = fill(working, "4", "100")
    assert order_apply_report(first) == "applied"
    before = snapshot(working)
    assert order_apply_report(first) == "duplicate"
    assert snapshot(working) == before
    assert ProcessedReport.objects.filter(report_id=first.report_id).count() == 1


def test_report_of_an_unknown_order_is_dropped():
    assert (
        order_apply_report(report("00000000-0000-0000-0000-00000000dead", ReportType.ACK))
        == "unknown_order"
    )


def test_venue_rejection_stores_the_reason(trader, account, quoted, fake_broker, submit):
    fake_broker.mode = "reject"
    with submit():
        order = place(trader, account)
    order.refresh_from_db()
    assert order.status == OrderStatus.REJECTED
    assert order.reject_reason == "venue says no"


def test_venue_expiry(working):
    order_apply_report(report(working.pk, ReportType.EXPIRED))
    working.refresh_from_db()
    assert working.status == OrderStatus.EXPIRED and working.canceled_at is not None


def test_reports_emitted_asynchronously_reach_orders(working):
    # the venue pushes a fill later (paper tick, exchange trade) through the report sink
    execution_registry.emit_reports([fill(working, "10", "100", type=ReportType.FILL)])
    working.refresh_from_db()
    assert working.status == OrderStatus.FILLED


# --- cancel racing a fill ---------------------------------------------------------------


def test_fill_after_cancel_request_wins_and_the_late_cancel_is_refused(
    trader, working, fake_broker
):
    # given a cancel the venue has not answered yet
    fake_broker.cancel_mode = "silent"
    order = order_cancel(user=trader, order_id=working.pk)
    assert order.status == OrderStatus.PENDING_CANCEL
    # when the venue fills the order before it sees the cancel
    order_apply_report(fill(working, "10", "100", type=ReportType.FILL))
    # and then refuses the cancel
    assert order_apply_report(report(working.pk, ReportType.CANCEL_REJECTED)) == "ignored"
    # then the fill stands and the order is filled
    working.refresh_from_db()
    assert working.status == OrderStatus.FILLED and working.filled_qty == 10
    assert order_replay(working.events.order_by("seq")) == order_state(working)


def test_partial_fill_during_cancel_then_the_rest_is_canceled(trader, working, fake_broker):
    fake_broker.cancel_mode = "silent"
    order_cancel(user=trader, order_id=working.pk)
    order_apply_report(fill(working, "4", "100"))
    working.refresh_from_db()
    assert working.status == OrderStatus.PENDING_CANCEL and working.filled_qty == 4
    order_apply_report(report(working.pk, ReportType.CANCELED))
    working.refresh_from_db()
    assert working.status == OrderStatus.CANCELED and working.filled_qty == 4
    types = list(working.events.order_by("seq").values_list("type", flat=True))
    assert types[-3:] == ["cancel_requested", "partial_fill", "canceled"]
    assert order_replay(working.events.order_by("seq")) == order_state(working)


def test_cancel_after_the_fill_is_409_and_changes_nothing(client, working):
    order_apply_report(fill(working, "10", "100", type=ReportType.FILL))
    before = snapshot(working)
    response = client.delete(f"/api/v1/orders/{working.pk}")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_state"
    assert snapshot(working) == before


def test_refused_cancel_returns_the_order_to_work(trader, working, fake_broker):
    fake_broker.cancel_mode = "reject"
    order = order_cancel(user=trader, order_id=working.pk)
    assert order.status == OrderStatus.NEW
    assert order.events.order_by("-seq").first().type == "cancel_rejected"


def test_fill_on_a_closed_order_is_booked_but_the_status_stays(trader, working, fake_broker):
    order_cancel(user=trader, order_id=working.pk)
    working.refresh_from_db()
    assert working.status == OrderStatus.CANCELED
    order_apply_report(fill(working, "2", "100"))
    working.refresh_from_db()
    assert working.status == OrderStatus.CANCELED
    assert working.filled_qty == 2
    assert Fill.objects.filter(order_id=working.pk).count() == 1
    assert working.events.order_by("-seq").first().type == "late_fill"
    assert order_replay(working.events.order_by("seq")) == order_state(working)


def test_fill_and_order_update_are_published_with_rest_shapes(working, delivered, submit):
    with submit():
        order_apply_report(fill(working, "10", "100", type=ReportType.FILL))
    by_event = {message["event"]: message for message in delivered}
    assert {"order.updated", "fill.created"} <= set(by_event)
    assert by_event["order.updated"]["kind"] == "orders"
    assert by_event["order.updated"]["data"]["status"] == "filled"
    assert by_event["order.updated"]["account_id"] == str(working.account_id)
    assert by_event["fill.created"]["kind"] == "fills"
    assert by_event["fill.created"]["data"]["qty"] == "10"
    assert by_event["fill.created"]["data"]["order_id"] == str(working.pk)


def test_live_push_reaches_the_accounts_group_after_commit(
    working, django_capture_on_commit_callbacks
):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"acct.{working.account_id}.orders", channel)
    with django_capture_on_commit_callbacks(execute=True):
        order_apply_report(report(working.pk, ReportType.CANCELED))
    message = async_to_sync(layer.receive)(channel)
    assert message["event"] == "order.updated"
    assert message["data"]["id"] == str(working.pk)
    assert message["data"]["status"] == "canceled"


def test_no_event_is_written_twice_for_one_report(working):
    r = fill(working, "1", "100")
    order_apply_report(r)
    order_apply_report(r)
    assert OrderEvent.objects.filter(order=working, data__report_id=r.report_id).count() == 1


def test_report_with_a_malformed_order_id_is_dropped():
    assert order_apply_report(report("not-an-order", ReportType.ACK)) == "unknown_order"
