"""Reconciliation with a real broker: OUR positions and orders against the BROKER's view
(adapter.positions / broker_orders / broker_fills of the in-test connected broker). A
difference OMS cannot explain raises the existing alert (reconciliation.difference); what
the broker did outside OMS is handed to the external sink, and is a difference without one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from accounts import services as account_services
from execution import registry as execution_registry
from execution.broker_sync import OurOrder
from execution.protocol import BrokerFillView, VenuePosition
from notifications.models import Notification
from pnl import registry
from pnl.models import ReconciliationAlert
from pnl.services import reconcile_positions
from tests.execution.connected_fake import broker_order

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)
CREDENTIALS = {"key_id": "PKTEST", "secret_key": "secret-value"}


@pytest.fixture
def hooks():
    saved = registry.hooks_snapshot()
    with execution_registry.EXTERNAL_SINKS.overridden():
        yield
    registry.hooks_restore(saved)


@pytest.fixture
def alpaca_account(connected_broker, trader, hooks):
    return account_services.account_create(
        actor=trader, name="Alpaca main", broker="alpaca", credentials=CREDENTIALS
    )


def _ours(*orders: OurOrder):
    calls = []

    def source(*, account_id, client_order_ids):
        calls.append(list(client_order_ids))
        return list(orders)

    source.calls = calls
    return source


def _our_order(**overrides) -> OurOrder:
    values = {
        "order_id": "o-1",
        "symbol": "ACME",
        "side": "buy",
        "qty": Decimal("10"),
        "filled_qty": Decimal("0"),
        "status": "new",
        "updated_at": NOW - timedelta(minutes=5),
    }
    values.update(overrides)
    return OurOrder(**values)


def _alerts(account):
    return list(ReconciliationAlert.objects.filter(account=account, status="open"))


def test_positions_are_compared_with_the_brokers(connected_broker, alpaca_account, trader):
    # Given the broker reports 5 ACME, OMS holds nothing
    connected_broker.positions_rows = [VenuePosition(str(alpaca_account.pk), "ACME", Decimal(5))]
    # When the account is reconciled
    result = reconcile_positions(account_id=alpaca_account.pk, now=NOW)
    # Then a position alert is opened and the owner told
    [alert] = _alerts(alpaca_account)
    assert result.opened == [alert.pk]
    assert (alert.kind, alert.symbol, alert.ours, alert.theirs) == ("position", "ACME", 0, 5)
    assert Notification.objects.filter(user=trader, kind="reconciliation.difference").exists()


def test_agreeing_orders_raise_nothing(connected_broker, alpaca_account):
    # Given our open order o-1 and the broker's view of it, both unfilled
    registry.register_open_orders_source(_ours(_our_order()))
    connected_broker.orders_rows = [broker_order(client_order_id="o-1")]
    # When reconciled
    result = reconcile_positions(account_id=alpaca_account.pk, now=NOW)
    # Then nothing differs
    assert result.checked and result.differences == 0 and not _alerts(alpaca_account)


def test_an_order_filled_at_the_broker_but_open_in_oms_is_a_difference(
    connected_broker, alpaca_account, trader
):
    # Given our order o-1 open and unfilled, which the broker filled long ago
    source = _ours(_our_order())
    registry.register_open_orders_source(source)
    connected_broker.orders_rows = [
        broker_order(client_order_id="o-1", status="filled", filled_qty=Decimal("10"))
    ]
    # When reconciled
    reconcile_positions(account_id=alpaca_account.pk, now=NOW)
    # Then one order alert names the order and what differs, and the owner is told
    [alert] = _alerts(alpaca_account)
    assert (alert.kind, alert.ref, alert.ours, alert.theirs) == ("order", "o-1", 0, 10)
    assert alert.detail == "Filled at the broker, open in OMS."
    note = Notification.objects.get(user=trader, kind="reconciliation.difference")
    assert "o-1" in note.body and note.data["kind"] == "order"
    # and our side was asked for the ids the broker named
    assert source.calls == [["o-1"]]


def test_an_order_changed_just_now_is_given_time(connected_broker, alpaca_account):
    # Given our order updated seconds ago, the broker's fill not applied yet
    registry.register_open_orders_source(_ours(_our_order(updated_at=NOW - timedelta(seconds=5))))
    connected_broker.orders_rows = [
        broker_order(client_order_id="o-1", status="filled", filled_qty=Decimal("10"))
    ]
    # When reconciled, then no difference yet
    assert reconcile_positions(account_id=alpaca_account.pk, now=NOW).differences == 0


def test_an_open_order_unknown_to_the_broker_and_its_alert_resolving(
    connected_broker, alpaca_account
):
    # Given our open order the broker does not know
    registry.register_open_orders_source(_ours(_our_order()))
    reconcile_positions(account_id=alpaca_account.pk, now=NOW)
    [alert] = _alerts(alpaca_account)
    assert alert.detail == "Open in OMS, unknown to the broker."
    # When the broker then shows it, and it is reconciled again
    connected_broker.orders_rows = [broker_order(client_order_id="o-1")]
    result = reconcile_positions(account_id=alpaca_account.pk, now=NOW)
    # Then the alert is resolved
    assert result.resolved == [alert.pk] and not _alerts(alpaca_account)


def test_an_order_placed_outside_oms_goes_to_the_external_sink(connected_broker, alpaca_account):
    # Given an import sink and an order + fill placed in the broker's own app
    received = []
    execution_registry.register_external_sink("test", lambda **kwargs: received.append(kwargs))
    registry.register_open_orders_source(_ours())
    connected_broker.orders_rows = [broker_order(broker_order_id="ext-1", client_order_id="")]
    fill = BrokerFillView("t-1", "ext-1", "", "ACME", "buy", Decimal(3), Decimal("9.5"), 0, NOW)
    connected_broker.fills_rows = [fill]
    # When reconciled
    result = reconcile_positions(account_id=alpaca_account.pk, now=NOW)
    # Then they are handed over for import, and are no difference
    assert len(received) == 1
    assert received[0]["account_id"] == str(alpaca_account.pk)
    assert [o.broker_order_id for o in received[0]["orders"]] == ["ext-1"]
    assert received[0]["fills"] == [fill]
    assert result.differences == 0


def test_an_outside_order_nobody_imports_is_a_difference(connected_broker, alpaca_account):
    # Given no import sink, and an order placed in the broker's own app
    connected_broker.orders_rows = [broker_order(broker_order_id="ext-1", client_order_id="")]
    # When reconciled (without OMS's open-order source either)
    reconcile_positions(account_id=alpaca_account.pk, now=NOW)
    # Then it is an alert naming the broker's order
    [alert] = _alerts(alpaca_account)
    assert alert.ref == "ext-1"
    assert "was not placed by OMS and was not imported" in alert.detail


def test_without_our_side_orders_with_a_client_id_are_left_alone(connected_broker, alpaca_account):
    # Given no open-order source (orders registers one: taken away here) and a broker order
    # carrying a client id (maybe ours)
    registry.HOOKS.unregister("open_orders_source")
    connected_broker.orders_rows = [broker_order(client_order_id="o-9", filled_qty=Decimal(2))]
    # When reconciled, then it is no difference
    assert reconcile_positions(account_id=alpaca_account.pk, now=NOW).differences == 0


def test_the_same_difference_twice_is_one_alert(connected_broker, alpaca_account, trader):
    registry.register_open_orders_source(_ours(_our_order()))
    reconcile_positions(account_id=alpaca_account.pk, now=NOW)
    reconcile_positions(account_id=alpaca_account.pk, now=NOW + timedelta(minutes=1))
    assert len(_alerts(alpaca_account)) == 1
    assert Notification.objects.filter(kind="reconciliation.difference").count() == 1


def test_a_stream_reconnect_reconciles_the_account(connected_broker, alpaca_account):
    # Given the broker reports a position OMS does not hold
    connected_broker.positions_rows = [VenuePosition(str(alpaca_account.pk), "ACME", Decimal(1))]
    # When the account's stream reconnects (tasks run inline in tests)
    execution_registry.stream_reconnected(account_id=str(alpaca_account.pk))
    # Then it was reconciled at once
    assert len(_alerts(alpaca_account)) == 1
