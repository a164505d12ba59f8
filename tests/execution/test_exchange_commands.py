"""Exchange command edge cases: ioc, races between commands, a failing sink, bad modifies."""

from __future__ import annotations

from decimal import Decimal

import pytest

from execution.exchange.shard import exchange_command_process
from execution.models import CommandStatus, VenueCommand, VenueFill, VenueOrder
from execution.protocol import ReportType
from execution.services import broker_cancel, broker_modify, broker_submit
from tests.execution.factories import modify_request, order_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    def _run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return _run


@pytest.fixture
def place(run):
    def _place(**kwargs):
        request = order_request(broker="exchange", **kwargs)
        run(broker_submit, request)
        return request

    return _place


def test_ioc_fills_what_it_can_and_cancels_the_rest(acme, sink, place):
    place(account_id="s", side="sell", qty="4", limit_price="10.00")
    ioc = place(account_id="b", side="buy", qty="10", limit_price="10.00", tif="ioc")
    assert sink.types(ioc.order_id) == [
        ReportType.ACK,
        ReportType.PARTIAL_FILL,
        ReportType.CANCELED,
    ]
    canceled = sink.of(ioc.order_id, ReportType.CANCELED)[0]
    assert canceled.reason.startswith("ioc")
    assert canceled.data["canceled_qty"] == "6"
    row = VenueOrder.objects.get(pk=ioc.order_id)
    assert (row.status, row.filled_qty) == ("canceled", Decimal("4"))


def test_fok_that_cannot_fill_completely_does_nothing(acme, sink, place):
    resting = place(account_id="s", side="sell", qty="4", limit_price="10.00")
    fok = place(account_id="b", side="buy", qty="10", limit_price="10.00", tif="fok")
    assert sink.types(fok.order_id) == [ReportType.ACK, ReportType.CANCELED]
    assert sink.types(resting.order_id) == [ReportType.ACK]
    assert not VenueFill.objects.exists()


def test_cancel_that_overtakes_the_new_command_cancels_and_the_new_is_skipped(acme, sink, run):
    # given an order whose "new" command has not been processed yet
    request = order_request(broker="exchange", account_id="b", side="buy", qty="5", limit_price="9")
    broker_submit(request)  # its enqueue is not run
    new = VenueCommand.objects.get(order_id=request.order_id, kind="new")
    # when its cancel is processed first
    run(broker_cancel, order_id=request.order_id, account_id="b", symbol="ACME", broker="exchange")
    assert sink.types(request.order_id) == [ReportType.CANCELED]
    # then the late "new" does not put it in the book
    assert exchange_command_process(command_id=new.id).startswith("skipped")
    assert VenueOrder.objects.get(pk=request.order_id).status == "canceled"
    assert sink.types(request.order_id) == [ReportType.CANCELED]


def test_a_failing_sink_rolls_the_command_back_and_a_retry_applies_it_once(acme, sink, place, run):
    from execution import registry

    place(account_id="s", side="sell", qty="10", limit_price="10.00")
    request = order_request(
        broker="exchange", account_id="b", side="buy", qty="10", limit_price="10.00"
    )
    broker_submit(request)
    command = VenueCommand.objects.get(order_id=request.order_id)

    def broken(reports):
        raise RuntimeError("orders is down")

    # when the sink fails inside the command's transaction
    registry.REPORT_SINKS.restore({broken: broken})
    with pytest.raises(RuntimeError):
        exchange_command_process(command_id=command.id)
    # then nothing of it is kept: no fills, command pending, resting order untouched
    command.refresh_from_db()
    assert command.status == CommandStatus.PENDING
    assert not VenueFill.objects.exists()
    assert VenueOrder.objects.get(pk=request.order_id).status == "pending"
    # and the retry (sink back) trades exactly once against the rebuilt book
    registry.REPORT_SINKS.restore({sink: sink})
    assert exchange_command_process(command_id=command.id) == "filled"
    assert exchange_command_process(command_id=command.id) == "duplicate"
    assert VenueFill.objects.count() == 2
    assert len(sink.of(request.order_id, ReportType.FILL)) == 1


def test_modify_below_the_filled_quantity_is_rejected_by_the_book(acme, sink, place, run):
    buy = place(account_id="b", side="buy", qty="10", limit_price="10.00")
    place(account_id="s", side="sell", qty="6", limit_price="10.00")
    run(broker_modify, modify_request(order_id=buy.order_id, account_id="b", new_qty="5"))
    rejected = sink.of(buy.order_id, ReportType.MODIFY_REJECTED)
    assert len(rejected) == 1
    assert "qty_not_above_filled" in rejected[0].reason
    row = VenueOrder.objects.get(pk=buy.order_id)
    assert (row.qty, row.filled_qty, row.visible_qty) == (Decimal("10"), Decimal("6"), Decimal("4"))


def test_modify_and_cancel_of_unknown_orders_are_rejected(db):
    modify = broker_modify(
        modify_request(order_id="nope", account_id="b", new_qty="5", broker="exchange")
    )
    cancel = broker_cancel(order_id="nope", account_id="b", symbol="ACME", broker="exchange")
    assert [r.type for r in modify] == [ReportType.MODIFY_REJECTED]
    assert [r.type for r in cancel] == [ReportType.CANCEL_REJECTED]
    assert not VenueCommand.objects.exists()


def test_open_orders_for_reconciliation(acme, sink, place):
    from execution.services import broker_open_orders

    resting = place(account_id="b", side="buy", qty="10", limit_price="9.50")
    place(account_id="s", side="sell", qty="4", limit_price="9.50")
    views = broker_open_orders(broker="exchange", account_id="b")
    assert [(v.order_id, v.status, v.filled_qty) for v in views] == [
        (resting.order_id, "partially_filled", Decimal("4"))
    ]
