"""order_apply_reports: a venue's burst of reports applied in one transaction — the same
result as one by one, all or nothing, duplicates and strangers handled per report."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError
from django.utils import timezone

from execution import registry as execution_registry
from execution.protocol import ReportType
from oms_site.registry import Registry
from orders.core.lifecycle import order_replay, order_state
from orders.models import Order, OrderStatus, ProcessedReport
from orders.services import order_apply_reports
from pnl.models import Fill, Position
from pnl.services import FillInput, fills_record
from tests.factories import account_with_member
from tests.orders.factories import place
from tests.orders.fakes import report

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_account(trader, fake_broker):
    return account_with_member(
        user=trader, role="owner", broker="fake", cash=Decimal("1000000"), name="Second"
    )


@pytest.fixture
def two_working(trader, account, second_account, quoted, fake_broker, submit):
    """A limit buy of 10 @ 100 on each account, acknowledged by the venue (status new)."""
    with submit():
        first = place(trader, account)
        second = place(trader, second_account, limit_price="101")
    for order in (first, second):
        order.refresh_from_db()
        assert order.status == OrderStatus.NEW
    return first, second


def fill(order, qty, price, *, kind=ReportType.PARTIAL_FILL, **fields):
    return report(order.pk, kind, fill_qty=Decimal(qty), fill_price=Decimal(price), **fields)


def booked_elsewhere(order, *, report_id: str) -> None:
    """A fill of 1 already in the ledger under `report_id` (booked outside this burst)."""
    fills_record(
        fills=[
            FillInput(
                order_id=order.pk,
                account_id=order.account_id,
                instrument_id=order.instrument_id,
                symbol="ACME",
                side="buy",
                qty=Decimal("1"),
                price=order.limit_price,
                ts=timezone.now(),
                report_id=report_id,
            )
        ]
    )


def state(order: Order) -> tuple:
    order.refresh_from_db()
    return (
        order.status,
        order.filled_qty,
        order.event_seq,
        Fill.objects.filter(order_id=order.pk).count(),
    )


def test_a_burst_over_two_orders_books_every_fill_and_moves_both_orders(two_working):
    first, second = two_working
    # when one burst carries two fills of the first order and one of the second
    outcomes = order_apply_reports(
        [
            fill(first, "3", "100", fee=Decimal("0.50")),
            fill(second, "10", "101", kind=ReportType.FILL),
            fill(first, "7", "99.95", kind=ReportType.FILL),
        ]
    )
    # then each report is applied, and both orders end filled with exact averages
    assert outcomes == ["applied", "applied", "applied"]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.filled_qty, first.avg_fill_price) == (
        OrderStatus.FILLED,
        Decimal("10"),
        Decimal("99.965"),
    )
    assert (second.status, second.avg_fill_price) == (OrderStatus.FILLED, Decimal("101"))
    # and the ledger holds the three fills, each position its own account's
    assert Fill.objects.count() == 3
    mine = Position.objects.get(account_id=first.account_id)
    theirs = Position.objects.get(account_id=second.account_id)
    assert (mine.qty, mine.fees, mine.fill_count) == (Decimal("10"), Decimal("0.50"), 2)
    assert (theirs.qty, theirs.fill_count) == (Decimal("10"), 1)
    # and the audit trail of each order replays to its state, a fill event per fill
    for order in (first, second):
        assert order_replay(order.events.order_by("seq")) == order_state(order)
    applied = ProcessedReport.objects.filter(outcome="applied", type__in=["fill", "partial_fill"])
    assert applied.count() == 3


def test_the_partial_fill_then_the_rest_in_one_burst_reads_as_two_events(two_working):
    first, _ = two_working
    order_apply_reports([fill(first, "4", "100"), fill(first, "6", "100", kind=ReportType.FILL)])
    types = list(first.events.order_by("seq").values_list("type", flat=True))
    assert types[-2:] == ["partial_fill", "fill"]


def test_duplicates_and_unknown_orders_in_a_burst_touch_nothing_else(two_working):
    first, _ = two_working
    once = fill(first, "4", "100")
    stranger = report("00000000-0000-0000-0000-00000000dead", ReportType.ACK)
    before_seq = state(first)[2]
    # when a burst repeats a report and names an order OMS never had
    outcomes = order_apply_reports([once, once, stranger, fill(first, "1", "100")])
    # then the repeat is a duplicate, the stranger is dropped, the others apply
    assert outcomes == ["applied", "duplicate", "unknown_order", "applied"]
    assert state(first) == (OrderStatus.PARTIALLY_FILLED, Decimal("5"), before_seq + 2, 2)


def test_the_same_burst_twice_changes_nothing(two_working):
    first, second = two_working
    burst = [fill(first, "2", "100"), fill(second, "3", "101")]
    order_apply_reports(burst)
    before = (state(first), state(second), Fill.objects.count())
    # when the venue re-delivers the whole burst
    assert order_apply_reports(burst) == ["duplicate", "duplicate"]
    # then nothing moves
    assert (state(first), state(second), Fill.objects.count()) == before


def test_a_failure_inside_the_burst_keeps_none_of_it(two_working):
    first, second = two_working
    # given a fill already booked under a report id the venue reuses for another order
    booked_elsewhere(second, report_id="reused-id")
    before = (state(first), Fill.objects.count(), ProcessedReport.objects.count())
    # when a burst holds a good fill of the first order and the clashing one
    with pytest.raises(IntegrityError):
        order_apply_reports(
            [fill(first, "5", "100"), fill(second, "2", "101", report_id="reused-id")]
        )
    # then the good fill was not kept either: the retry will apply the whole burst
    assert (state(first), Fill.objects.count(), ProcessedReport.objects.count()) == before


def test_a_burst_pushes_each_state_and_each_fill_in_order_on_commit(two_working, delivered, submit):
    first, _ = two_working
    with submit():
        order_apply_reports([fill(first, "4", "100"), fill(first, "6", "100", kind="fill")])
    pushed = [
        (m["event"], m["data"].get("status", ""))
        for m in delivered
        if m["event"] in ("order.updated", "fill.created")
    ]
    assert pushed == [
        ("fill.created", ""),
        ("order.updated", "partially_filled"),
        ("fill.created", ""),
        ("order.updated", "filled"),
    ]


def test_a_burst_that_rolls_back_pushes_nothing(two_working, delivered, submit):
    first, _ = two_working
    # a burst whose second fill clashes with a report id the ledger already holds
    booked_elsewhere(first, report_id="taken-id")
    delivered.clear()
    with submit(), pytest.raises(IntegrityError):
        order_apply_reports(
            [fill(first, "2", "100"), fill(first, "3", "100", report_id="taken-id")]
        )
    assert delivered == []


def test_a_venue_burst_reaches_orders_through_the_sink_as_one_call(two_working, monkeypatch):
    first, second = two_working
    calls: list[int] = []
    sinks: Registry = Registry("report sink")

    def counting(reports):
        calls.append(len(reports))

    sinks.restore({counting: counting, **execution_registry.REPORT_SINKS.snapshot()})
    monkeypatch.setattr(execution_registry, "REPORT_SINKS", sinks)
    execution_registry.emit_reports(
        [fill(first, "10", "100", kind="fill"), fill(second, "10", "101", kind="fill")]
    )
    assert calls == [2]
    assert (state(first)[0], state(second)[0]) == (OrderStatus.FILLED, OrderStatus.FILLED)


def test_acks_and_fills_of_several_orders_in_one_burst_apply_in_each_orders_order(
    trader, account, second_account, quoted, fake_broker, delivered, submit
):
    # given two orders not yet acknowledged by the venue
    first, second = place(trader, account), place(trader, second_account, limit_price="101")
    for order in (first, second):
        order.refresh_from_db()
        order.status = OrderStatus.PENDING_NEW  # as sent, its acknowledgement still to come
        order.save(update_fields=["status"])

    # when one burst carries each one's acknowledgement and fills, interleaved
    with submit():
        outcomes = order_apply_reports(
            [
                report(first.pk, ReportType.ACK),
                fill(first, "10", "100", kind=ReportType.FILL),
                report(second.pk, ReportType.ACK),
                fill(second, "4", "101"),
            ]
        )

    # then every report applies, each order ends where its own reports lead
    assert outcomes == ["applied"] * 4
    assert state(first)[:2] == (OrderStatus.FILLED, Decimal("10"))
    assert state(second)[:2] == (OrderStatus.PARTIALLY_FILLED, Decimal("4"))
    # and each order's audit trail and pushes follow its own reports' order
    for order in (first, second):
        assert order_replay(order.events.order_by("seq")) == order_state(order)
    pushed = [
        (m["data"]["id"], m["data"]["status"]) for m in delivered if m["event"] == "order.updated"
    ]
    assert [s for i, s in pushed if i == str(first.pk)][-2:] == ["new", "filled"]
    assert [s for i, s in pushed if i == str(second.pk)][-2:] == ["new", "partially_filled"]
