"""orders/core/hooks.py: the core tells whoever registered (the automation wing) of an
automated order's change inside the transaction that made it, and nobody of a plain order's;
the automation wing is registered from OrdersConfig.ready()."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.automation.changes import after_change
from orders.core import hooks
from orders.core.cancel import order_cancel
from orders.core.place import order_place
from orders.models import Order, OrderStatus

pytestmark = pytest.mark.django_db


def _place(account, **extra):
    return order_place(
        user=None,
        account_id=account.pk,
        symbol="ACME",
        side="buy",
        order_type="limit",
        qty=Decimal("10"),
        limit_price=Decimal("100"),
        **extra,
    ).order


@pytest.fixture
def heard():
    """Changes the core reported through a probe registered as the only change hook: the
    order, where it came from, and its status as the database holds it at that moment."""
    changes: list[tuple[str, str, str]] = []

    def probe(*, order, from_status, event_type, data):
        stored = Order.objects.get(pk=order.pk).status
        changes.append((str(order.pk), from_status, stored))

    with hooks.CHANGE_HOOKS.overridden({"probe": probe}):
        yield changes


def test_the_automation_wing_is_registered_into_the_core():
    # Given Django started (OrdersConfig.ready() ran)
    # Then the core's hooks hold the automation wing's parts
    assert after_change in hooks.change_hooks()
    assert [e.name for e in hooks.placement_extensions()] == ["contingent", "reentry", "algo"]
    assert [h.name for h in hooks.cancel_hooks()] == ["algo"]
    assert hooks.release_guards()
    assert hooks.detail_reader("algo") is not None


def test_an_automated_orders_change_is_heard_inside_its_transaction(account, quoted, heard):
    # Given an order with a re-entry rule (automation cares about its changes)
    order = _place(account, reentry={"max_retries": 1, "reprice_ticks": 0})
    assert heard == []  # inserted, not changed

    # When it is canceled (held back before submission: a local cancel)
    order_cancel(user=None, order_id=order.pk)

    # Then the hook heard the change once, the new status already saved (in the same
    # transaction, before it commits)
    assert heard == [(str(order.pk), OrderStatus.PENDING_NEW, OrderStatus.CANCELED)]


def test_a_plain_orders_change_is_not_heard(account, quoted, heard):
    # Given an order without any automation
    order = _place(account)

    # When it is canceled
    order_cancel(user=None, order_id=order.pk)

    # Then no change hook was called for it
    assert heard == []


def test_registering_a_hook_again_replaces_it(heard):
    # When a hook is registered again under its name (a second ready(), autoreload)
    def other(**_):
        return None

    hooks.register_change_hook("probe", other)

    # Then there is still one hook under that name: the new one
    assert hooks.change_hooks() == (other,)
