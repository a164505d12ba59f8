"""order_submit: an in-process venue's submission commits claim, venue and answer together;
an outside venue's claim commits before the venue is called."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from execution.models import VenueFill, VenueOrder
from orders.core.lifecycle import order_replay, order_state
from orders.models import OrderStatus
from orders.services import order_submit, orders_sweep_pending_new
from pnl.models import Fill
from tests.orders.factories import place

pytestmark = pytest.mark.django_db


def _failing_apply(monkeypatch):
    def refuse(reports, **kwargs):
        raise RuntimeError("the report path is down")

    monkeypatch.setattr("orders.core.submit.order_apply_reports", refuse)


def test_paper_submission_that_cannot_apply_its_answer_keeps_nothing(
    trader, paper, quoted, monkeypatch
):
    # given a market buy on the paper broker, committed and waiting for its submission
    order = place(trader, paper, order_type="market", limit_price=None, qty="5")
    assert order.status == OrderStatus.PENDING_NEW
    # when the venue fills it but applying the fill fails
    _failing_apply(monkeypatch)
    with pytest.raises(RuntimeError):
        order_submit(order_id=order.pk)
    # then neither the claim nor the venue's fill was kept: the order is untouched
    order.refresh_from_db()
    assert (order.status, order.submitted_at) == (OrderStatus.PENDING_NEW, None)
    assert not VenueOrder.objects.filter(pk=str(order.pk)).exists()
    assert not VenueFill.objects.exists() and not Fill.objects.exists()
    # and the sweeper's re-send fills it exactly once
    monkeypatch.undo()
    assert orders_sweep_pending_new(now=timezone.now() + timedelta(minutes=1)) == [str(order.pk)]
    order.refresh_from_db()
    assert order.status == OrderStatus.FILLED
    assert Fill.objects.filter(order_id=order.pk).count() == 1
    assert VenueFill.objects.count() == 1
    assert order_replay(order.events.order_by("seq")) == order_state(order)


def test_outside_venue_claim_stands_when_the_answer_cannot_be_applied(
    trader, account, quoted, fake_broker, monkeypatch
):
    # given a venue reached over the network (not in this database's transaction)
    fake_broker.in_process = False
    order = place(trader, account)
    # when it took the order but applying its answer fails
    _failing_apply(monkeypatch)
    with pytest.raises(RuntimeError):
        order_submit(order_id=order.pk)
    # then the order is known to be submitted (the sweeper re-sends it, the venue answers
    # the same reports again): it was sent once, and that is on record
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_NEW and order.submitted_at is not None
    assert len(fake_broker.submitted) == 1
    assert order.events.filter(type="submitted").count() == 1
