"""orders_compare: OMS's orders against a real broker's, pure (no database, no broker)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from execution.broker_sync import OurOrder, orders_compare
from tests.execution.connected_fake import broker_order

NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)


def _ours(**overrides) -> OurOrder:
    values = {
        "order_id": "o-1",
        "symbol": "ACME",
        "side": "buy",
        "qty": Decimal("10"),
        "filled_qty": Decimal("0"),
        "status": "new",
        "updated_at": NOW - timedelta(minutes=2),
    }
    values.update(overrides)
    return OurOrder(**values)


def test_a_partial_fill_only_the_broker_knows_is_a_difference():
    differences, external = orders_compare(
        ours=[_ours(status="partially_filled", filled_qty=Decimal("2"))],
        theirs=[
            broker_order(client_order_id="o-1", status="partially_filled", filled_qty=Decimal("5"))
        ],
        now=NOW,
    )
    assert external == []
    [diff] = differences
    assert (diff.ref, diff.ours, diff.theirs) == ("o-1", Decimal("2"), Decimal("5"))
    assert diff.detail == "Filled 5 at the broker, 2 in OMS."


def test_an_order_canceled_in_oms_but_open_at_the_broker_is_a_difference():
    differences, _ = orders_compare(
        ours=[_ours(status="canceled")], theirs=[broker_order(client_order_id="o-1")], now=NOW
    )
    assert [d.detail for d in differences] == ["Open at the broker (new), canceled in OMS."]


def test_closed_orders_of_the_broker_outside_oms_without_fills_are_ignored():
    # A canceled, unfilled order someone placed in the broker's app changes nothing in OMS.
    differences, external = orders_compare(
        ours=[], theirs=[broker_order(status="canceled", client_order_id="")], now=NOW
    )
    assert differences == [] and external == []


def test_terminal_orders_of_ours_the_broker_no_longer_lists_are_fine():
    differences, _ = orders_compare(ours=[_ours(status="filled")], theirs=[], now=NOW)
    assert differences == []
