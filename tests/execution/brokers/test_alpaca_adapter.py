"""The Alpaca adapter against the loopback fake: commands, faults, connection and reads.

Through `execution.services` (the resilience wrapper: retries, timeouts, circuit breaker),
with reports collected by the `sink` fixture. The stream follower: test_alpaca_stream.py.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest

from accounts.models import BrokerConnection
from execution.protocol import (
    BrokerUnavailableError,
    ModifyRequest,
    PermanentBrokerError,
    ReportType,
)
from execution.services import (
    broker_caller,
    broker_cancel,
    broker_modify,
    broker_positions,
    broker_submit,
)
from tests.execution.brokers.alpaca_support import *  # noqa: F403 - its fixtures
from tests.execution.brokers.alpaca_support import OMS_SYMBOL, FakeControl, make_connection
from tests.execution.factories import order_request
from tests.factories import TradingAccountFactory

pytestmark = pytest.mark.django_db(transaction=True)


def request(account, **kwargs):
    kwargs.setdefault("side", "buy")
    kwargs.setdefault("qty", "10")
    return order_request(broker="alpaca", account_id=str(account.pk), symbol=OMS_SYMBOL, **kwargs)


def modify(order, account, *, version=2, **changes):
    values = {k: Decimal(v) for k, v in changes.items()}
    return ModifyRequest(
        order_id=order.order_id,
        account_id=str(account.pk),
        symbol=OMS_SYMBOL,
        version=version,
        broker="alpaca",
        **values,
    )


def status_of(account) -> str:
    return BrokerConnection.objects.get(pk=account.connection_id).status


# ---------------------------------------------------------------------------- commands


def test_submit_sends_our_id_as_client_order_id_and_the_brokers_symbol(
    account, broker, control, sink
):
    order = request(account, type="limit", limit_price="189.5")
    [ack] = broker_submit(order)
    [held] = control.orders()
    assert (held["client_order_id"], held["symbol"], held["qty"]) == (order.order_id, "AAPL", "10")
    assert (held["limit_price"], held["time_in_force"], held["type"]) == ("189.5", "day", "limit")
    assert (ack.type, ack.order_id, ack.broker_order_id) == (
        ReportType.ACK,
        order.order_id,
        held["id"],
    )
    assert ack.report_id == f"alp-{held['id']}-new"
    # sending it again (a re-submission) finds it: still one order, the same answer
    assert broker_submit(order) == [ack]
    assert len(control.orders()) == 1 and control.posts() == 1


def test_gtd_is_refused_in_words_and_nothing_is_sent(account, broker, control, sink):
    with pytest.raises(PermanentBrokerError, match="no 'gtd' time in force"):
        broker_submit(request(account, type="limit", limit_price="180", tif="gtd"))
    assert control.orders() == []


def test_a_refused_order_is_rejected_with_alpacas_reason(account, broker, control, sink):
    control.fault(kind="reject", message="insufficient buying power")
    order = request(account, type="market")
    [report] = broker_submit(order)
    assert (report.type, report.order_id) == (ReportType.REJECTED, order.order_id)
    assert report.reason == "Alpaca refused the order: insufficient buying power"


def test_modify_replaces_at_alpaca_and_reports_both_broker_ids(account, broker, control, sink):
    order = request(account, type="limit", limit_price="180")
    [ack] = broker_submit(order)
    control("POST", f"/orders/{ack.broker_order_id}/fill", {"qty": "4", "price": "180"})
    # when the user asks for 12 in total at 181
    [replaced] = broker_modify(modify(order, account, new_qty="12", new_limit_price="181"))
    new = {o["id"]: o for o in control.orders()}[replaced.broker_order_id]
    # then Alpaca works the 8 left in a new order that replaces the old one
    assert (new["qty"], new["limit_price"], new["replaces"]) == ("8", "181", ack.broker_order_id)
    assert new["client_order_id"] == f"{order.order_id}.r2"
    assert replaced.type == ReportType.REPLACED and replaced.order_id == order.order_id
    assert replaced.data == {
        "replaced_broker_order_id": ack.broker_order_id,
        "broker_order_id": new["id"],
        "new_qty": "12",
        "new_limit_price": "181",
    }
    # the same modify again (its answer lost) finds the replacement: no second replace
    assert broker_modify(modify(order, account, new_qty="12", new_limit_price="181")) == [replaced]
    assert len(control.orders()) == 2


def test_a_replace_whose_answer_timed_out_is_found_and_never_sent_twice(
    account, broker, control, sink
):
    order = request(account, type="limit", limit_price="180")
    broker_submit(order)
    control.fault(kind="timeout_after_accept", match="PATCH", delay_s=3)
    [replaced] = broker_modify(modify(order, account, new_limit_price="181"))
    assert replaced.type == ReportType.REPLACED
    assert replaced.data["new_qty"] == "10" and replaced.data["new_limit_price"] == "181"
    requests_seen = control("GET", "/requests")
    assert sum(1 for method, _ in requests_seen if method == "PATCH") == 1
    assert sorted(o["status"] for o in control.orders()) == ["new", "replaced"]


def test_modify_and_cancel_of_a_filled_order_are_refused(account, broker, control, sink):
    order = request(account, type="market", qty="1")
    broker_submit(order)
    [refused] = broker_modify(modify(order, account, new_qty="2"))
    assert refused.type == ReportType.MODIFY_REJECTED
    assert refused.reason == "The order is filled at Alpaca; it cannot be modified."
    [refused] = broker_cancel(
        order_id=order.order_id, account_id=str(account.pk), symbol=OMS_SYMBOL, broker="alpaca"
    )
    assert refused.type == ReportType.CANCEL_REJECTED


def test_cancel_of_a_replaced_order_cancels_the_current_one(account, broker, control, sink):
    order = request(account, type="limit", limit_price="180")
    broker_submit(order)
    [replaced] = broker_modify(modify(order, account, new_limit_price="179"))
    [canceled] = broker_cancel(
        order_id=order.order_id, account_id=str(account.pk), symbol=OMS_SYMBOL, broker="alpaca"
    )
    assert (canceled.type, canceled.broker_order_id) == (
        ReportType.CANCELED,
        replaced.broker_order_id,
    )
    assert canceled.report_id == f"alp-{replaced.broker_order_id}-canceled"
    statuses = sorted(o["status"] for o in control.orders())
    assert statuses == ["canceled", "replaced"]


# ---------------------------------------------------------------------------- faults


def test_an_order_accepted_whose_answer_timed_out_is_found_and_never_sent_twice(
    account, broker, control, sink
):
    control.fault(kind="timeout_after_accept", delay_s=3)
    order = request(account, type="limit", limit_price="180")
    [ack] = broker_submit(order)
    [held] = control.orders()
    assert (ack.type, ack.broker_order_id) == (ReportType.ACK, held["id"])
    assert control.posts() == 1


@pytest.mark.parametrize("status", [500, 504])
def test_a_5xx_after_accepting_is_looked_up_before_sending_again(
    account, broker, control, sink, status
):
    control.fault(kind="status", status=status, match="POST /v2/orders", accept=True)
    [ack] = broker_submit(request(account, type="limit", limit_price="180"))
    assert ack.type == ReportType.ACK
    assert len(control.orders()) == 1 and control.posts() == 1


def test_a_429_is_retried_after_checking_the_order_is_not_there(account, broker, control, sink):
    control.fault(kind="status", status=429, match="POST /v2/orders")
    [ack] = broker_submit(request(account, type="limit", limit_price="180"))
    assert ack.type == ReportType.ACK
    # the SDK did not retry on its own; ours looked the order up, then sent it once more
    assert len(control.orders()) == 1 and control.posts() == 2


def test_a_broker_that_stops_answering_trips_the_breaker_and_shows_disconnected(
    account, broker, control, sink
):
    control.fault(kind="status", status=503, count=10)
    with pytest.raises(BrokerUnavailableError):
        broker_submit(request(account, type="limit", limit_price="180"))
    assert status_of(account) == "disconnected"
    seen = len(control("GET", "/requests"))
    # the breaker is open: the next call fails at once without reaching Alpaca
    with pytest.raises(BrokerUnavailableError, match="circuit breaker open"):
        broker_positions(broker="alpaca", account_id=str(account.pk))
    assert len(control("GET", "/requests")) == seen
    with pytest.raises(BrokerUnavailableError, match="circuit breaker open"):
        broker.funds(account_id=str(account.pk))


# ---------------------------------------------------------------------------- connection


def test_check_connection_reports_ok_and_records_connected(account, broker):
    check = broker.check_connection(account_id=str(account.pk))
    assert (check.ok, check.state) == (True, "connected")
    assert check.detail == "Connected to Alpaca account PA0FAKE0001 (ACTIVE)."
    assert check.latency_ms >= 0
    assert status_of(account) == "connected"


def test_wrong_credentials_say_so_in_words_and_the_status_is_error(fake, instrument, broker):
    wrong = TradingAccountFactory(
        broker="alpaca", connection=make_connection(fake, secret_key="not-the-secret")
    )
    check = broker.check_connection(account_id=str(wrong.pk))
    assert (check.ok, check.state) == (False, "error")
    assert check.detail == "Alpaca refused the key: forbidden (HTTP 403)"
    connection = BrokerConnection.objects.get(pk=wrong.connection_id)
    assert (connection.status, connection.last_error) == ("error", check.detail)


def test_no_answer_is_disconnected(fake, instrument, broker):
    silent = TradingAccountFactory(broker="alpaca", connection=make_connection(fake, timeout_s=0.3))
    FakeControl(fake).fault(kind="hang", delay_s=3)
    check = broker.check_connection(account_id=str(silent.pk))
    assert (check.ok, check.state) == (False, "disconnected")
    assert check.detail.endswith("did not answer within 0.3s")


# ---------------------------------------------------------------------------- reads


def test_reads_map_back_to_oms_symbols_and_tell_ours_from_outside_orders(
    account, broker, control, sink
):
    ours = request(account, type="market", qty="3")
    broker_submit(ours)
    resting = request(account, type="limit", limit_price="150", qty="2")
    broker_submit(resting)
    outside = control(
        "POST",
        "/outside/orders",
        {
            "symbol": "AAPL",
            "qty": "1",
            "side": "sell",
            "type": "market",
            "time_in_force": "day",
        },
    )
    account_id = str(account.pk)
    funds = broker.funds(account_id=account_id)
    assert (funds.cash, funds.buying_power, funds.currency) == (
        Decimal("99619.6"),
        Decimal("99619.6"),
        "USD",
    )
    [position] = broker.positions(account_id=account_id)
    assert (position.symbol, position.qty) == (OMS_SYMBOL, Decimal("2"))
    orders = {v.broker_order_id: v for v in broker.broker_orders(account_id=account_id, since=None)}
    assert orders[outside["id"]].client_order_id == ""
    assert {v.client_order_id for v in orders.values()} == {ours.order_id, resting.order_id, ""}
    assert all(v.symbol == OMS_SYMBOL for v in orders.values())
    fills = broker.broker_fills(account_id=account_id, since=None)
    assert sorted((f.client_order_id, f.side, f.qty) for f in fills) == [
        ("", "sell", Decimal("1")),
        (ours.order_id, "buy", Decimal("3")),
    ]
    [working] = broker.open_orders(account_id=account_id)
    assert (working.order_id, working.qty, working.status) == (
        resting.order_id,
        Decimal("2"),
        "new",
    )


def test_an_account_without_alpaca_keys_is_refused_in_words(fake, instrument, broker):
    bare = TradingAccountFactory(broker="alpaca", connection=make_connection(fake, key_id=""))
    check = broker.check_connection(account_id=str(bare.pk))
    assert (check.ok, check.state) == (False, "error")
    assert check.detail == "No Alpaca key id and secret key are stored for this account."


def test_orders_of_another_account_are_not_ours(fake, account, broker, control, sink):
    other = TradingAccountFactory(broker="alpaca", connection=make_connection(fake))
    order = request(other, type="limit", limit_price="150")
    broker_submit(order)
    assert broker.our_id(order.order_id) == order.order_id
    assert broker.our_id(str(uuid.uuid4())) == ""


def test_the_client_is_kept_per_account_and_rebuilt_when_the_connection_changes(account, broker):
    account_id = str(account.pk)
    first = broker.conn(account_id)
    assert broker.conn(account_id) is first
    connection = BrokerConnection.objects.get(pk=account.connection_id)
    connection.settings = {**connection.settings, "timeout_s": 0.7}
    connection.save(update_fields=["settings"])
    rebuilt = broker.conn(account_id)
    assert rebuilt is not first and rebuilt.timeout_s == 0.7


def test_after_the_cool_down_a_read_through_the_services_closes_the_breaker(
    account, broker, control, settings
):
    settings.OMS_BROKER_POLICIES = {
        "alpaca": {"failure_threshold": 2, "cooldown_s": 0.3, "max_attempts": 1}
    }
    control.fault(kind="status", status=502, count=2, match="GET /v2/positions")
    for _ in range(2):
        with pytest.raises(BrokerUnavailableError, match="HTTP 502"):
            broker_positions(broker="alpaca", account_id=str(account.pk))
    with pytest.raises(BrokerUnavailableError, match="circuit breaker open"):
        broker_positions(broker="alpaca", account_id=str(account.pk))
    time.sleep(0.35)  # the cool-down: the next call is the half-open probe
    assert broker_positions(broker="alpaca", account_id=str(account.pk)) == []
    assert broker_caller(broker="alpaca").breaker.state == "closed"
    assert status_of(account) == "connected"


def test_an_account_without_a_connection_cannot_be_tested(instrument, broker):
    bare = TradingAccountFactory(broker="alpaca")
    check = broker.check_connection(account_id=str(bare.pk))
    assert (check.ok, check.state) == (False, "error")
    assert check.detail == "This account has no Alpaca connection to test."
