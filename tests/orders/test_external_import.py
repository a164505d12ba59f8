"""Orders and fills that happened at a real broker outside OMS: imported once, marked
external, booked through the same report path (FIFO position, cash), and kept in step."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from accounts.models import TradingAccount
from execution.protocol import BrokerFillView, BrokerOrderView, ExecutionReport, ReportType
from execution.registry import emit_external
from orders.core.external import orders_import_external
from orders.core.lifecycle import order_replay, order_state
from orders.core.reports import order_apply_reports
from orders.core.selectors import orders_at_broker
from orders.models import Order, OrderStatus, ProcessedReport
from pnl.models import Fill, Position
from tests.factories import account_with_member

pytestmark = pytest.mark.django_db

TS = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
CASH = Decimal("100000")


@pytest.fixture
def alpaca(trader, acme) -> TradingAccount:
    return account_with_member(user=trader, broker="alpaca", cash=CASH, name="Alpaca")


def order_view(**overrides) -> BrokerOrderView:
    values = {
        "broker_order_id": "b-1",
        "client_order_id": "",
        "symbol": "ACME",
        "side": "buy",
        "type": "limit",
        "qty": Decimal("10"),
        "filled_qty": Decimal("10"),
        "limit_price": Decimal("100"),
        "stop_price": None,
        "avg_fill_price": Decimal("100"),
        "status": "filled",
        "time_in_force": "day",
        "created_at": TS,
    }
    values.update(overrides)
    return BrokerOrderView(**values)


def fill_view(**overrides) -> BrokerFillView:
    values = {
        "trade_id": "b-1:10",
        "broker_order_id": "b-1",
        "client_order_id": "",
        "symbol": "ACME",
        "side": "buy",
        "qty": Decimal("10"),
        "price": Decimal("100"),
        "fee": Decimal("0"),
        "ts": TS,
    }
    values.update(overrides)
    return BrokerFillView(**values)


def alpaca_order_json(**overrides) -> dict:
    """An order as Alpaca's trade_updates carries it (data["order"])."""
    values = {
        "id": "b-7",
        "client_order_id": "from-the-app",
        "symbol": "ACME",
        "side": "sell",
        "type": "limit",
        "qty": "10",
        "filled_qty": "0",
        "limit_price": "101",
        "status": "new",
        "time_in_force": "gtc",
        "created_at": "2026-01-05T14:30:00Z",
    }
    values.update(overrides)
    return values


def stream_report(account, report_type=ReportType.ACK, *, order=None, **overrides):
    """An update of the Alpaca stream for an order OMS did not place (order_id "")."""
    order = order or alpaca_order_json()
    values = {
        "report_id": f"alp-{order['id']}-{report_type}",
        "order_id": "",
        "type": report_type,
        "ts": TS,
        "broker_order_id": order["id"],
        "data": {
            "external": True,
            "broker": "alpaca",
            "order": order,
            "account_id": str(account.pk),
        },
    }
    values.update(overrides)
    return ExecutionReport(**values)


def stream_fill(account, *, qty: str, cum: str, price: str, order=None) -> ExecutionReport:
    order = order or alpaca_order_json(filled_qty=cum)
    return stream_report(
        account,
        ReportType.PARTIAL_FILL,
        order=order,
        report_id=f"alp-{order['id']}-{cum}",
        fill_qty=Decimal(qty),
        fill_price=Decimal(price),
        trade_id=f"{order['id']}:{cum}",
    )


def position(account) -> Decimal:
    row = Position.objects.filter(account=account, symbol="ACME").first()
    return Decimal(0) if row is None else row.qty


def test_an_order_placed_outside_oms_is_imported_once_with_its_fill(alpaca):
    # given the broker reports a buy of 10 ACME OMS never placed, filled at 100
    orders, fills = [order_view()], [fill_view()]
    # when reconciliation hands it to the external sink (orders registered it)
    assert emit_external(account_id=str(alpaca.pk), orders=orders, fills=fills) is True
    # then it appears once, marked external, filled, created by nobody
    [order] = Order.objects.filter(account=alpaca)
    assert order.external is True and order.created_by is None
    assert (order.status, order.filled_qty, order.avg_fill_price) == ("filled", 10, 100)
    assert order.broker_order_id == "b-1"
    first = order.events.order_by("seq").first()
    assert first.type == "created" and first.data["note"] == "imported from the broker"
    assert order_replay(order.events.order_by("seq")) == order_state(order)
    # and its fill is booked into the position and the cash, under the broker's trade id
    [fill] = Fill.objects.filter(account=alpaca)
    assert fill.report_id == "ext-alpaca-b-1:10" and fill.order_id == order.pk
    assert position(alpaca) == 10
    alpaca.refresh_from_db()
    assert alpaca.cash == CASH - Decimal("1000")
    # when the same import runs again
    again = orders_import_external(account_id=str(alpaca.pk), orders=orders, fills=fills)
    # then nothing is doubled
    assert again.created == [] and set(again.outcomes.values()) == {"duplicate"}
    assert Order.objects.filter(account=alpaca).count() == 1
    assert Fill.objects.filter(account=alpaca).count() == 1 and position(alpaca) == 10
    alpaca.refresh_from_db()
    assert alpaca.cash == CASH - Decimal("1000")


def test_an_imported_order_is_kept_in_step_partial_then_full_then_nothing_more(alpaca):
    # given an open external order partly filled (4 of 10) at the broker
    first = [fill_view(trade_id="b-1:4", qty=Decimal("4"))]
    view = order_view(status="partially_filled", filled_qty=Decimal("4"))
    orders_import_external(account_id=str(alpaca.pk), orders=[view], fills=first)
    order = Order.objects.get(account=alpaca)
    assert (order.status, order.filled_qty) == ("partially_filled", 4)
    # when the rest (6 at 101) fills there and the next reconciliation sees both fills
    both = [*first, fill_view(trade_id="b-1:10", qty=Decimal("6"), price=Decimal("101"))]
    orders_import_external(account_id=str(alpaca.pk), orders=[order_view()], fills=both)
    # then the same order is filled, each fill booked once
    order.refresh_from_db()
    assert (order.status, order.filled_qty, order.avg_fill_price) == (
        "filled",
        10,
        Decimal("100.6"),
    )
    assert sorted(Fill.objects.filter(order_id=order.pk).values_list("qty", flat=True)) == [4, 6]
    assert position(alpaca) == 10


def test_an_external_order_canceled_at_the_broker_is_canceled_once(alpaca):
    view = order_view(status="new", filled_qty=Decimal("0"))
    orders_import_external(account_id=str(alpaca.pk), orders=[view], fills=[])
    canceled = order_view(status="canceled", filled_qty=Decimal("0"))
    orders_import_external(account_id=str(alpaca.pk), orders=[canceled], fills=[])
    orders_import_external(account_id=str(alpaca.pk), orders=[canceled], fills=[])
    order = Order.objects.get(account=alpaca)
    assert order.status == "canceled"
    assert order.events.filter(type="canceled").count() == 1
    assert position(alpaca) == 0


def test_a_fill_whose_order_the_broker_no_longer_lists_still_gets_an_order(alpaca):
    fills = [fill_view(broker_order_id="old-1", trade_id="old-1:3", qty=Decimal("3"))]
    orders_import_external(account_id=str(alpaca.pk), orders=[], fills=fills)
    order = Order.objects.get(account=alpaca, broker_order_id="old-1")
    assert order.external and order.status == "filled" and order.qty == 3
    assert position(alpaca) == 3


def test_an_order_on_an_instrument_oms_does_not_list_is_not_imported(alpaca, caplog):
    view = order_view(symbol="NOPE", broker_order_id="b-9")
    result = orders_import_external(account_id=str(alpaca.pk), orders=[view], fills=[])
    assert result.created == [] and not Order.objects.filter(account=alpaca).exists()
    assert "cannot be imported" in caplog.text


def test_a_stream_report_for_an_unknown_order_is_imported_not_dropped(alpaca):
    # given the stream reports a new order at the broker OMS never placed
    # when the report service applies it
    [outcome] = order_apply_reports([stream_report(alpaca)])
    # then the order is imported as external, open, with the broker's terms
    order = Order.objects.get(account=alpaca)
    assert outcome == "ignored"  # the ack of an order imported as accepted changes nothing
    assert order.external and order.status == OrderStatus.NEW
    assert (order.side, order.qty, order.limit_price, order.time_in_force) == (
        "sell",
        10,
        101,
        "gtc",
    )
    assert order.broker_order_id == "b-7" and order.client_order_id is None
    assert ProcessedReport.objects.get(report_id="alp-b-7-ack").order_id == order.pk


def test_a_stream_fill_of_an_unknown_order_partial_then_full(alpaca):
    # given two fills of an order placed outside OMS, 4 then 6, arriving on the stream
    outcomes = order_apply_reports([stream_fill(alpaca, qty="4", cum="4", price="101")])
    order = Order.objects.get(account=alpaca)
    assert outcomes == ["applied"]
    assert (order.status, order.filled_qty) == ("partially_filled", 4)
    order_apply_reports([stream_fill(alpaca, qty="6", cum="10", price="102")])
    # then one external order, filled, both fills booked (a short of 10: sold outside)
    order.refresh_from_db()
    assert (order.status, order.filled_qty, order.avg_fill_price) == (
        "filled",
        10,
        Decimal("101.6"),
    )
    assert Order.objects.filter(account=alpaca).count() == 1
    assert position(alpaca) == -10
    # and the same fills seen again by reconciliation (same trade ids) book nothing
    fills = [
        fill_view(broker_order_id="b-7", trade_id="b-7:4", side="sell", qty=Decimal("4")),
        fill_view(broker_order_id="b-7", trade_id="b-7:10", side="sell", qty=Decimal("6")),
    ]
    view = order_view(broker_order_id="b-7", side="sell", limit_price=Decimal("101"))
    orders_import_external(account_id=str(alpaca.pk), orders=[view], fills=fills)
    assert Fill.objects.filter(account=alpaca).count() == 2 and position(alpaca) == -10


def test_a_kite_update_for_an_unknown_order_is_imported(trader, acme):
    kite = account_with_member(user=trader, broker="kite", cash=CASH, name="Kite")
    data = {
        "external": True,
        "account_id": str(kite.pk),
        "broker": "kite",
        "symbol": "ACME",
        "side": "buy",
        "type": "market",
        "qty": "5",
        "limit_price": None,
        "status": "filled",
        "kite": {"validity": "DAY", "tradingsymbol": "ACME"},
    }
    fill = ExecutionReport(
        report_id="kite-250105000001-t-T1",
        order_id="",
        type=ReportType.FILL,
        ts=TS,
        fill_qty=Decimal("5"),
        fill_price=Decimal("99.5"),
        broker_order_id="250105000001",
        trade_id="T1",
        data=data,
    )
    assert order_apply_reports([fill]) == ["applied"]
    order = Order.objects.get(account=kite)
    assert order.external and order.status == "filled" and order.broker == "kite"
    assert Fill.objects.get(account=kite).report_id == "ext-kite-T1"
    assert position(kite) == 5


def test_a_report_naming_an_oms_order_that_does_not_exist_stays_unknown(alpaca):
    report = ExecutionReport(
        report_id="r-1",
        order_id="6d1f0a5e-8e0c-4d2c-9a43-9d1c6c1f0b11",
        type=ReportType.ACK,
        ts=TS,
    )
    assert order_apply_reports([report]) == ["unknown_order"]
    assert not Order.objects.exists()


def test_an_external_report_without_an_account_stays_unknown(alpaca):
    report = stream_report(alpaca)
    report.data.pop("account_id")
    assert order_apply_reports([report]) == ["unknown_order"]
    assert not Order.objects.exists()


def test_an_external_order_replaced_at_alpaca_keeps_its_id_and_both_broker_ids(alpaca):
    # given an order placed outside OMS and imported from the stream
    order_apply_reports([stream_report(alpaca)])
    order = Order.objects.get(account=alpaca)
    # when Alpaca replaces it (qty 10 → 8, a new broker order b-8)
    new = alpaca_order_json(id="b-8", qty="8", replaces="b-7")
    replaced = stream_report(
        alpaca,
        ReportType.REPLACED,
        order=new,
        report_id="alp-b-7-replaced",
        broker_order_id="b-8",
    )
    replaced.data.update(
        replaced_broker_order_id="b-7", broker_order_id="b-8", new_qty="8", new_limit_price="101"
    )
    assert order_apply_reports([replaced]) == ["applied"]
    # then the same OMS order now answers to b-8 and remembers b-7
    order.refresh_from_db()
    assert Order.objects.filter(account=alpaca).count() == 1
    assert (order.qty, order.broker_order_id, order.replaced_broker_order_ids) == (
        8,
        "b-8",
        ["b-7"],
    )
    # and a later fill of b-8 lands on it
    order_apply_reports([stream_fill(alpaca, qty="8", cum="8", price="101", order=new)])
    order.refresh_from_db()
    assert order.status == "filled" and Order.objects.filter(account=alpaca).count() == 1
    # and its audit trail replays to what it is (created by the import, replaced, filled)
    assert order_replay(order.events.order_by("seq")) == order_state(order)


def test_our_replaced_alpaca_order_keeps_our_id_and_both_broker_ids(
    client, trader, account, quoted, submit
):
    # given an order OMS placed, acknowledged by the broker as b-100
    with submit():
        placed = client.post(
            "/api/v1/orders",
            {"account": str(account.pk), "symbol": "ACME", "side": "buy", "type": "limit"}
            | {"qty": "10", "limit_price": "100", "time_in_force": "day"},
            format="json",
        ).json()
    Order.objects.filter(pk=placed["id"]).update(broker_order_id="b-100")
    # when the broker's replace answer comes (Alpaca: a new broker order b-101)
    report = ExecutionReport(
        report_id="alp-b-100-replaced",
        order_id=placed["id"],
        type=ReportType.REPLACED,
        ts=TS,
        broker_order_id="b-101",
        data={"replaced_broker_order_id": "b-100", "broker_order_id": "b-101", "new_qty": "12"},
    )
    assert order_apply_reports([report]) == ["applied"]
    # then our id is the user's id, the broker ids are both kept and shown
    order = Order.objects.get(pk=placed["id"])
    assert (order.qty, order.broker_order_id, order.replaced_broker_order_ids) == (
        12,
        "b-101",
        ["b-100"],
    )
    event = order.events.get(type="modified")
    assert (event.data["replaced_broker_order_id"], event.data["broker_order_id"]) == (
        "b-100",
        "b-101",
    )
    client.force_login(trader)  # the API client is also a session client for the page
    page = client.get(f"/orders/{order.pk}/").content.decode()
    assert "b-101" in page and "b-100" in page and 'id="order-broker-ids"' in page


def test_external_orders_show_in_the_api_and_pages_only_to_the_accounts_members(
    alpaca, trader, other_user, make_key_client, client
):
    # given an external order on the trader's Alpaca account
    emit_external(account_id=str(alpaca.pk), orders=[order_view()], fills=[fill_view()])
    order = Order.objects.get(account=alpaca)
    # then its members see it with "external": true, in the list and on its detail page
    body = client.get(f"/api/v1/orders/{order.pk}").json()
    assert body["external"] is True
    fills = client.get("/api/v1/fills", {"account": str(alpaca.pk)}).json()
    assert [f["external"] for f in (fills["results"] if isinstance(fills, dict) else fills)] == [
        True
    ]
    listed = client.get("/api/v1/orders", {"status": "all"}).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [row["external"] for row in rows] == [True]
    client.force_login(trader)
    assert 'id="order-external"' in client.get(f"/orders/{order.pk}/").content.decode()
    # and another user gets 404 for it, and does not see it listed
    mallory = make_key_client(other_user)
    assert mallory.get(f"/api/v1/orders/{order.pk}").status_code == 404
    theirs = mallory.get("/api/v1/orders", {"status": "all"}).json()
    assert (theirs["results"] if isinstance(theirs, dict) else theirs) == []
    mallory.force_login(other_user)
    assert mallory.get(f"/orders/{order.pk}/").status_code == 404


def test_orders_own_orders_are_not_external(client, account, quoted, submit):
    with submit():
        body = client.post(
            "/api/v1/orders",
            {"account": str(account.pk), "symbol": "ACME", "side": "buy", "type": "limit"}
            | {"qty": "1", "limit_price": "100", "time_in_force": "day"},
            format="json",
        ).json()
    assert body["external"] is False


def test_reconciliation_sees_our_open_orders_at_the_broker_not_external_ones(alpaca, trader):
    # given an external open order and an order OMS holds itself (held) or sent (new)
    orders_import_external(
        account_id=str(alpaca.pk), orders=[order_view(status="new", filled_qty=0)], fills=[]
    )
    external = Order.objects.get(account=alpaca)
    sent = Order.objects.create(
        account=alpaca,
        instrument=external.instrument,
        symbol="ACME",
        side="buy",
        type="limit",
        qty=Decimal("1"),
        limit_price=Decimal("100"),
        time_in_force="day",
        status="new",
    )
    Order.objects.create(
        account=alpaca,
        instrument=external.instrument,
        symbol="ACME",
        side="sell",
        type="stop",
        qty=Decimal("1"),
        stop_price=Decimal("90"),
        time_in_force="day",
        status="held",
    )
    # when reconciliation asks for OMS's side (naming the external one by our id: any status)
    ours = orders_at_broker(account_id=alpaca.pk, client_order_ids=[str(external.pk), "x"])
    # then it gets the sent order plus the one named, not the held one
    assert sorted(o.order_id for o in ours) == sorted([str(sent.pk), str(external.pk)])


def test_the_back_office_filters_orders_by_external(alpaca, admin_user, client):
    emit_external(account_id=str(alpaca.pk), orders=[order_view()], fills=[fill_view()])
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    page = client.get("/admin/orders/order/", {"external__exact": "1"})
    assert page.status_code == 200
    assert page.context["cl"].result_count == 1
    assert (
        client.get("/admin/orders/order/", {"external__exact": "0"}).context["cl"].result_count == 0
    )
