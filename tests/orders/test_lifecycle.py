"""The allowed-transition table, the lifecycle function and the audit replay."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms_site.errors import InvalidState
from orders.core.lifecycle import (
    ALLOWED_TRANSITIONS,
    actor_system,
    can_transition,
    order_record_event,
    order_replay,
    order_state,
    order_transition,
)
from orders.models import TERMINAL_STATUSES, Order, OrderEventType, OrderStatus
from tests.orders.factories import place

pytestmark = pytest.mark.django_db
SYSTEM = actor_system("test")


def test_table_covers_every_status_and_terminal_states_lead_nowhere():
    # given the table
    assert set(ALLOWED_TRANSITIONS) == set(OrderStatus.values)
    # then a terminal status has no way out
    for status in TERMINAL_STATUSES:
        assert ALLOWED_TRANSITIONS[status] == frozenset()
        for target in OrderStatus.values:
            assert not can_transition(status, target)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("held", "filled"),
        ("held", "new"),
        ("new", "pending_new"),
        ("new", "held"),
        ("partially_filled", "new"),
        ("partially_filled", "rejected"),
        ("pending_new", "held"),
    ],
)
def test_illegal_transitions_are_refused(source, target):
    assert not can_transition(source, target)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("pending_new", "new"),
        ("held", "pending_new"),
        ("new", "partially_filled"),
        ("partially_filled", "filled"),
        ("pending_cancel", "filled"),  # a fill racing the cancel wins
        ("pending_cancel", "new"),  # cancel refused
        ("new", "expired"),
    ],
)
def test_legal_transitions_are_allowed(source, target):
    assert can_transition(source, target)


def test_order_transition_refuses_illegal_move_and_changes_nothing(trader, account, quoted):
    # given a held stop order
    order = place(trader, account, order_type="stop", limit_price=None, stop_price="105")
    assert order.status == OrderStatus.HELD
    events_before = order.events.count()
    # when something tries to move it straight to filled
    with pytest.raises(InvalidState):
        order_transition(
            order=order,
            to_status=OrderStatus.FILLED,
            event_type=OrderEventType.FILL,
            actor=SYSTEM,
        )
    # then the stored order and its trail are unchanged
    order.refresh_from_db()
    assert order.status == OrderStatus.HELD
    assert order.events.count() == events_before


def test_terminal_order_takes_no_more_events(trader, account, quoted):
    # given a canceled order
    order = place(trader, account, order_type="stop", limit_price=None, stop_price="105")
    order_transition(
        order=order,
        to_status=OrderStatus.CANCELED,
        event_type=OrderEventType.CANCELED,
        actor=SYSTEM,
    )
    # then neither a status change nor a modification note can be written
    with pytest.raises(InvalidState):
        order_transition(
            order=order,
            to_status=OrderStatus.PENDING_NEW,
            event_type=OrderEventType.RELEASED,
            actor=SYSTEM,
        )
    with pytest.raises(InvalidState):
        order_record_event(order=order, event_type=OrderEventType.MODIFIED, actor=SYSTEM)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELED


def test_events_are_numbered_without_gaps_and_carry_from_to(trader, account, quoted):
    order = place(trader, account, order_type="stop", limit_price=None, stop_price="105")
    order_transition(
        order=order,
        to_status=OrderStatus.PENDING_NEW,
        event_type=OrderEventType.RELEASED,
        actor=SYSTEM,
    )
    events = list(order.events.order_by("seq"))
    assert [e.seq for e in events] == [1, 2]
    assert events[0].type == "created"
    assert events[1].data["from"] == "held" and events[1].data["to"] == "pending_new"
    assert events[1].actor == {"type": "system", "id": None, "name": "test"}


def test_replay_rejects_a_trail_with_a_gap():
    events = [
        {"seq": 1, "type": "created", "data": {"to": "new", "order": {"qty": "1"}}},
        {"seq": 3, "type": "canceled", "data": {"from": "new", "to": "canceled"}},
    ]
    with pytest.raises(ValueError, match="gap"):
        order_replay(events)


def test_replay_folds_fills_into_an_exact_weighted_average():
    events = [
        {
            "seq": 1,
            "type": "created",
            "data": {"to": "pending_new", "order": {"qty": "3", "limit_price": "11"}},
        },
        {
            "seq": 2,
            "type": "partial_fill",
            "data": {
                "from": "pending_new",
                "to": "partially_filled",
                "fill_qty": "1",
                "fill_price": "10",
            },
        },
        {
            "seq": 3,
            "type": "fill",
            "data": {
                "from": "partially_filled",
                "to": "filled",
                "fill_qty": "2",
                "fill_price": "10.05",
            },
        },
    ]
    state = order_replay(events)
    assert state["status"] == "filled"
    assert state["filled_qty"] == Decimal("3")
    # (10 + 20.10) / 3 = 10.0333… rounded half-even to 8 places
    assert state["avg_fill_price"] == Decimal("10.03333333")


def test_stored_order_equals_its_replay(trader, account, quoted):
    order = place(trader, account)
    assert order_replay(order.events.order_by("seq")) == order_state(Order.objects.get(pk=order.pk))
