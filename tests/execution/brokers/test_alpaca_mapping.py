"""Alpaca ↔ OMS mapping: order bodies, client ids, and report ids that are the same whichever
path (stream or catch-up poll) saw the event."""

from __future__ import annotations

from decimal import Decimal

import pytest

from execution.adapters import alpaca_mapping as mapping
from execution.protocol import PermanentBrokerError, ReportType
from tests.execution.factories import order_request

ORDER = {
    "id": "6e6bd6a1-0000-4000-8000-000000000001",
    "client_order_id": "5b0f4b8e-9a53-4a8c-9d0e-1f2a3b4c5d6e",
    "qty": "10",
    "filled_qty": "4",
    "status": "partially_filled",
    "side": "buy",
    "type": "limit",
    "limit_price": "189.5",
    "time_in_force": "day",
    "created_at": "2026-12-05T14:30:00.123456Z",
    "updated_at": "2026-12-05T14:31:00Z",
}


def test_the_order_body_carries_our_id_strings_and_only_the_remaining_quantity():
    request = order_request(
        broker="alpaca", account_id="a", side="sell", qty="10", type="limit", limit_price="0.1"
    )
    body = mapping.order_body(request, broker_symbol="BRK.B")
    assert body == {
        "symbol": "BRK.B",
        "qty": "10",
        "side": "sell",
        "type": "limit",
        "time_in_force": "day",
        "client_order_id": request.order_id,
        "limit_price": "0.1",
    }
    market = order_request(broker="alpaca", account_id="a", side="buy", qty="5", type="market")
    assert "limit_price" not in mapping.order_body(market, broker_symbol="X")


@pytest.mark.parametrize("tif", ["gtd", "opg"])
def test_a_time_in_force_alpaca_lacks_is_refused(tif):
    request = order_request(
        broker="alpaca", account_id="a", side="buy", qty="1", limit_price="1", tif=tif
    )
    with pytest.raises(PermanentBrokerError, match=f"no '{tif}' time in force"):
        mapping.order_body(request, broker_symbol="X")


def test_replacement_client_ids_map_back_to_our_order_id():
    ours = ORDER["client_order_id"]
    assert mapping.base_order_id(mapping.replacement_client_id(ours, 3)) == ours
    assert mapping.base_order_id(ours) == ours
    assert mapping.base_order_id("my.rocket") == "my.rocket"  # not a replacement mark


def test_a_fill_has_the_same_report_id_from_the_stream_and_from_the_activities():
    from_stream = mapping.fill_report(
        ORDER,
        our_id="x",
        qty=Decimal("4"),
        price=Decimal("189.5"),
        cum_qty=Decimal("4"),
        ts="2026-12-05T14:31:00Z",
        complete=False,
        leaves=Decimal("6"),
    )
    activity = {
        "order_id": ORDER["id"],
        "cum_qty": "4.000",
        "qty": "4",
        "price": "189.5",
        "side": "buy",
        "transaction_time": "2026-12-05T14:31:00Z",
    }
    assert from_stream.report_id == f"alp-{ORDER['id']}-4"
    assert mapping.fill_view(activity, our_id="x", symbol="S").trade_id == from_stream.trade_id
    assert from_stream.type == ReportType.PARTIAL_FILL and from_stream.ts.tzinfo is not None


def test_a_rejected_replacement_rejects_the_change_not_our_order():
    replacement = {
        **ORDER,
        "status": "rejected",
        "replaces": "6e6bd6a1-0000-4000-8000-000000000000",
    }
    report = mapping.terminal_report(replacement, our_id="x", event="rejected")
    assert report.type == ReportType.MODIFY_REJECTED
    plain = mapping.terminal_report(ORDER, our_id="x", event="rejected")
    assert (plain.type, plain.leaves_qty) == (ReportType.REJECTED, 0)
    external = mapping.terminal_report(ORDER, our_id="", event="canceled")
    assert external.data["external"] is True and external.data["order"] is ORDER


def test_statuses_map_to_oms_order_statuses():
    view = mapping.order_view({**ORDER, "status": "done_for_day"}, our_id="x", symbol="S")
    assert (view.status, view.qty, view.filled_qty) == ("expired", Decimal("10"), Decimal("4"))
    folded = mapping.order_view(ORDER, our_id="x", symbol="S", filled_before=Decimal("3"))
    assert (folded.qty, folded.filled_qty, folded.status) == (
        Decimal("13"),
        Decimal("7"),
        "partially_filled",
    )
