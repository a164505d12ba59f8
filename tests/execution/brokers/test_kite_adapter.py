"""The Kite adapter against the loopback Kite fake: orders, updates, session, reads."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings

from accounts.crypto import decrypt_credentials, encrypt_credentials
from accounts.models import BrokerConnection
from execution.adapters import kite_mapping as km
from execution.adapters.kite import KiteBroker
from execution.adapters.kite_session import KiteSessionExpiredError
from execution.protocol import (
    BrokerRateLimitedError,
    BrokerTimeoutError,
    ConnectionState,
    ReportType,
)
from tests.execution.brokers.conftest import kite_account_make
from tests.execution.factories import modify_request, order_request


@pytest.fixture
def kite() -> KiteBroker:
    return KiteBroker()


def _order(account, **kwargs):
    values = {
        "broker": "kite",
        "account_id": str(account.pk),
        "symbol": "INFY",
        "side": "buy",
        "qty": "10",
        "type": "market",
    }
    values.update(kwargs)
    return order_request(**values)


def _status(account) -> str:
    return BrokerConnection.objects.get(pk=account.connection_id).status


# ------------------------------------------------------------------ login and session


def test_login_url_and_completing_the_login_store_a_session_until_the_daily_reset(
    kite, kite_fake, infy
):
    # given a Kite account that never logged in
    account = kite_account_make(kite_fake, logged_in=False)
    kite_fake.control("config", redirect_url="http://127.0.0.1:9/cb")
    # when the user follows the login URL and OMS completes the login with the request token
    url = kite.login_url(account_id=str(account.pk))
    assert url == f"{kite_fake.login_url}?api_key=kite_test_key&v=3"
    import requests

    location = requests.get(url, allow_redirects=False, timeout=5).headers["location"]
    token = location.split("request_token=")[1]
    check = kite.complete_login(account_id=str(account.pk), request_token=token)
    # then the account is connected and holds a token that ends at the next 06:00 IST
    assert check.ok and check.state == ConnectionState.CONNECTED
    assert "AB1234" in check.detail and _status(account) == "connected"
    stored = decrypt_credentials(
        BrokerConnection.objects.get(pk=account.connection_id).credentials_encrypted
    )
    assert stored["api_secret"] == "kite_test_secret" and stored["access_token"]
    expires = datetime.fromisoformat(stored["access_token_expires_at"]).astimezone(km.IST)
    assert (expires.hour, expires.minute) == (6, 0)
    assert timedelta(0) < expires - datetime.now(km.IST) <= timedelta(days=1)
    assert kite.check_connection(account_id=str(account.pk)).state == ConnectionState.CONNECTED


def test_a_login_with_a_wrong_secret_is_an_error_in_words(kite, kite_fake, infy):
    account = kite_account_make(kite_fake, logged_in=False)
    connection = BrokerConnection.objects.get(pk=account.connection_id)
    connection.credentials_encrypted = encrypt_credentials(
        {"api_key": "kite_test_key", "api_secret": "wrong"}
    )
    connection.save()
    token = kite_fake.control("request_token")["request_token"]
    check = kite.complete_login(account_id=str(account.pk), request_token=token)
    assert not check.ok and check.state == ConnectionState.ERROR
    assert "Kite refused the login" in check.detail and "checksum" in check.detail
    assert _status(account) == "error"


def test_an_expired_session_is_session_expired_and_refuses_orders(kite, kite_fake, kite_account):
    # given Kite ended the session (its daily reset)
    kite_fake.control("expire_session")
    # when OMS checks the connection, then it says so and the account shows it
    check = kite.check_connection(account_id=str(kite_account.pk))
    assert check.state == ConnectionState.SESSION_EXPIRED and not check.ok
    assert "log in" in check.detail.lower()
    assert _status(kite_account) == "session_expired"
    # and an order is refused in words, not sent
    with pytest.raises(KiteSessionExpiredError, match="log in to Kite again"):
        kite.submit(_order(kite_account))
    assert kite_fake.control("stats")["orders_received"] == 0


def test_a_stored_expiry_in_the_past_needs_no_call_to_know(kite, kite_fake, kite_account):
    connection = BrokerConnection.objects.get(pk=kite_account.connection_id)
    credentials = decrypt_credentials(connection.credentials_encrypted)
    credentials["access_token_expires_at"] = "2020-01-01T06:00:00+05:30"
    connection.credentials_encrypted = encrypt_credentials(credentials)
    connection.save()
    check = kite.check_connection(account_id=str(kite_account.pk))
    assert check.state == ConnectionState.SESSION_EXPIRED and "daily reset" in check.detail


def test_a_broker_that_does_not_answer_is_disconnected(kite, kite_fake, kite_account):
    kite_fake.stop()
    check = kite.check_connection(account_id=str(kite_account.pk))
    assert check.state == ConnectionState.DISCONNECTED and _status(kite_account) == "disconnected"


# ------------------------------------------------------------------ orders and updates


def test_a_market_order_is_acked_tagged_and_its_fill_reported_once(kite, kite_fake, kite_account):
    request = _order(kite_account)
    reports = kite.submit(request)
    assert [r.type for r in reports] == [ReportType.ACK]
    broker_id = reports[0].broker_order_id
    assert (
        reports[0].order_id == request.order_id and reports[0].report_id == f"kite-{broker_id}-ack"
    )
    fills = kite.poll_reports(account_id=str(kite_account.pk))
    assert [(r.type, r.fill_qty, r.fill_price, r.leaves_qty) for r in fills] == [
        (ReportType.FILL, Decimal("10"), Decimal("1501"), Decimal("0"))
    ]
    assert fills[0].order_id == request.order_id and fills[0].trade_id
    # the same updates again (poll, ticker, postback) report nothing new
    assert kite.poll_reports(account_id=str(kite_account.pk)) == []


def test_partial_fill_modify_and_cancel_map_both_ways(kite, kite_fake, kite_account, quotes):
    account_id = str(kite_account.pk)
    request = _order(kite_account, type="limit", limit_price="1490")
    broker_id = kite.submit(request)[0].broker_order_id
    kite_fake.control("partial_next", qty=4)
    quotes["NSE:INFY"] = {"bid": 1488, "ask": 1489, "last": 1489}
    kite_fake.control("match")
    partial = kite.poll_reports(account_id=account_id)
    assert [(r.type, r.fill_qty, r.fill_price, r.leaves_qty) for r in partial] == [
        (ReportType.PARTIAL_FILL, Decimal("4"), Decimal("1489"), Decimal("6"))
    ]
    quotes["NSE:INFY"] = {"bid": 1500, "ask": 1501, "last": 1500}
    modified = kite.modify(
        modify_request(
            order_id=request.order_id, account_id=account_id, new_qty="12", new_limit_price="1495.5"
        )
    )
    assert [(r.type, r.data) for r in modified] == [
        (ReportType.REPLACED, {"new_qty": "12", "new_limit_price": "1495.5"})
    ]
    assert kite.poll_reports(account_id=account_id) == []  # Kite's UPDATE: already reported
    canceled = kite.cancel(order_id=request.order_id, account_id=account_id, symbol="INFY")
    assert [(r.type, r.leaves_qty) for r in canceled] == [(ReportType.CANCELED, Decimal("0"))]
    assert canceled[0].report_id == f"kite-{broker_id}-canceled"
    refused = kite.cancel(order_id=request.order_id, account_id=account_id, symbol="INFY")
    assert refused[0].type == ReportType.CANCEL_REJECTED and "CANCELLED" in refused[0].reason


def test_an_order_kite_rejects_is_rejected_with_its_reason(kite, kite_fake, kite_account):
    kite_fake.control("reject_next", message="RMS:Margin Exceeds")
    request = _order(kite_account)
    assert kite.submit(request)[0].type == ReportType.ACK
    reports = kite.poll_reports(account_id=str(kite_account.pk))
    assert [(r.type, r.reason) for r in reports] == [(ReportType.REJECTED, "RMS:Margin Exceeds")]


def test_orders_kite_cannot_take_are_refused_before_sending(kite, kite_fake, kite_account):
    gtc = kite.submit(_order(kite_account, type="limit", limit_price="1400", tif="gtc"))
    fractional = kite.submit(_order(kite_account, qty="1.5"))
    assert gtc[0].type == ReportType.REJECTED and "GTT" in gtc[0].reason
    assert fractional[0].type == ReportType.REJECTED and "whole" in fractional[0].reason
    assert kite_fake.control("stats")["orders_received"] == 0


def test_duplicate_and_out_of_order_updates_do_nothing_twice(kite, kite_fake, kite_account):
    account_id = str(kite_account.pk)
    request = _order(kite_account)
    broker_id = kite.submit(request)[0].broker_order_id
    history = kite_fake.book.history[broker_id]  # [OPEN, COMPLETE] as the ticker sent them
    # the COMPLETE arrives first (twice), the older OPEN after it
    first = kite.reports_for(account_id=account_id, order=history[1])
    again = kite.reports_for(account_id=account_id, order=history[1])
    late = kite.reports_for(account_id=account_id, order=history[0])
    assert [r.type for r in first] == [ReportType.FILL]
    assert again == [] and late == []


def test_an_answer_lost_after_kite_accepted_is_found_by_tag_never_sent_twice(
    kite, kite_fake, kite_account
):
    # given Kite accepts the order but answers after our timeout (0.5 s)
    account = kite_account_make(kite_fake, timeout_s=0.5)
    kite_fake.control("timeout_next", seconds=2)
    request = _order(account)
    with pytest.raises(BrokerTimeoutError):
        kite.submit(request)
    # when the submission is retried
    reports = kite.submit(request)
    # then the order is found by its tag: acked, and Kite received one order only
    assert [r.type for r in reports] == [ReportType.ACK]
    assert kite_fake.control("stats")["orders_received"] == 1
    assert kite_fake.book.orders[reports[0].broker_order_id]["tag"] == km.order_tag(
        request.order_id
    )


def test_the_limiter_refuses_the_11th_order_in_a_second_before_kite_sees_it(
    kite, kite_fake, kite_account
):
    for _ in range(10):
        kite.submit(_order(kite_account, type="limit", limit_price="1"))
    with pytest.raises(BrokerRateLimitedError, match="10 orders a second"):
        kite.submit(_order(kite_account, type="limit", limit_price="1"))
    assert kite_fake.control("stats")["orders_received"] == 10


def test_an_order_placed_outside_oms_is_reported_as_external(kite, kite_fake, kite_account):
    kite_fake.control(
        "outside_order",
        exchange="NSE",
        tradingsymbol="INFY",
        transaction_type="SELL",
        quantity=3,
        product="CNC",
        order_type="MARKET",
    )
    reports = kite.poll_reports(account_id=str(kite_account.pk))
    assert [r.type for r in reports] == [ReportType.ACK, ReportType.FILL]
    assert {r.order_id for r in reports} == {""}
    data = reports[1].data
    assert data["external"] is True and (data["symbol"], data["side"], data["qty"]) == (
        "INFY",
        "sell",
        "3",
    )
    views = kite.broker_orders(account_id=str(kite_account.pk), since=None)
    assert [(v.client_order_id, v.status, v.symbol) for v in views] == [("", "filled", "INFY")]


# ------------------------------------------------------------------ reads


def test_funds_positions_orders_and_fills_from_kite(kite, kite_fake, kite_account):
    account_id = str(kite_account.pk)
    request = _order(kite_account)
    kite.submit(request)
    open_request = _order(kite_account, type="limit", limit_price="1400", qty="5")
    kite.submit(open_request)
    funds = kite.funds(account_id=account_id)
    assert (funds.cash, funds.currency) == (Decimal("1000000") - Decimal("15010"), "INR")
    positions = kite.positions(account_id=account_id)
    assert [(p.symbol, p.qty) for p in positions] == [("INFY", Decimal("10"))]
    fills = kite.broker_fills(account_id=account_id, since=None)
    assert [(f.client_order_id, f.qty, f.price, f.side) for f in fills] == [
        (request.order_id, Decimal("10"), Decimal("1501"), "buy")
    ]
    open_orders = kite.open_orders(account_id=account_id)
    assert [(o.order_id, o.qty, o.limit_price, o.status) for o in open_orders] == [
        (open_request.order_id, Decimal("5"), Decimal("1400"), "new")
    ]


# ------------------------------------------------------------------ the stream


def _outside_buy(server) -> str:
    return server.control(
        "outside_order",
        exchange="NSE",
        tradingsymbol="INFY",
        transaction_type="BUY",
        quantity=2,
        product="CNC",
        order_type="MARKET",
    )["order_id"]


def _run_stream(kite, account):
    stop = threading.Event()
    runner = threading.Thread(
        target=kite.stream_run, kwargs={"account_id": str(account.pk), "stop": stop}
    )
    runner.start()
    return stop, runner


@pytest.mark.django_db(transaction=True)
def test_the_stream_reports_ticker_updates_and_catches_up_after_the_ticker_drops(
    kite, kite_fake, sink
):
    # given the stream follows an account (orders here are placed in Kite's own app, so the
    # test thread writes nothing while the stream thread does)
    from tests.execution.brokers.conftest import ExchangeFactory, InstrumentFactory

    InstrumentFactory(symbol="INFY", exchange=ExchangeFactory(code="NSE"))
    account = kite_account_make(kite_fake)
    stop, runner = _run_stream(kite, account)
    try:
        _until(lambda: kite_fake.control("stats")["sockets"] == 1)
        first = _outside_buy(kite_fake)
        _until(
            lambda: (
                [r.type for r in sink.reports if r.broker_order_id == first]
                == [ReportType.ACK, ReportType.FILL]
            )
        )
        # when the ticker drops mid-order, then the fill comes from the poll after reconnecting
        kite_fake.control("drop_ticker_next", count=1)
        second = _outside_buy(kite_fake)
        _until(
            lambda: (
                ReportType.FILL in [r.type for r in sink.reports if r.broker_order_id == second]
            ),
            seconds=10,
        )
    finally:
        stop.set()
        runner.join(timeout=5)
    assert not runner.is_alive()
    assert len([r for r in sink.reports if r.broker_order_id == first]) == 2


@pytest.mark.skipif(
    "sqlite" in django_settings.DATABASES["default"]["ENGINE"],
    reason="in-memory SQLite (shared cache) refuses concurrent writers from two threads "
    "('table is locked') instead of waiting; run on MariaDB",
)
@pytest.mark.django_db(transaction=True)
def test_the_stream_and_the_submitting_thread_report_our_fill_once(kite, kite_fake, sink):
    from tests.execution.brokers.conftest import ExchangeFactory, InstrumentFactory

    InstrumentFactory(symbol="INFY", exchange=ExchangeFactory(code="NSE"))
    account = kite_account_make(kite_fake)
    stop, runner = _run_stream(kite, account)
    try:
        _until(lambda: kite_fake.control("stats")["sockets"] == 1)
        request = _order(account)
        answer = kite.submit(request)
        _until(
            lambda: (
                sink.types(request.order_id) == [ReportType.ACK, ReportType.FILL]
                or sink.types(request.order_id) == [ReportType.FILL]
            )
        )
    finally:
        stop.set()
        runner.join(timeout=5)
    emitted = [*answer, *sink.of(request.order_id)]
    assert len({r.report_id for r in emitted if r.type == ReportType.FILL}) == 1
    assert {r.report_id for r in emitted if r.type == ReportType.ACK} == {
        f"kite-{answer[0].broker_order_id}-ack"
    }


def _until(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_through_the_resilience_wrapper_a_timed_out_submit_is_retried_and_found(kite_fake):
    from execution.services import broker_submit
    from tests.execution.brokers.conftest import ExchangeFactory, InstrumentFactory

    # given Kite accepts the order but answers after the adapter's HTTP timeout
    InstrumentFactory(symbol="INFY", exchange=ExchangeFactory(code="NSE"))
    account = kite_account_make(kite_fake, timeout_s=0.5)
    kite_fake.control("timeout_next", seconds=2)
    # when OMS submits through execution.services (retries of transient errors)
    reports = broker_submit(_order(account))
    # then the retry finds the order by its tag: one ack, one order at Kite
    assert [r.type for r in reports] == [ReportType.ACK]
    assert kite_fake.control("stats")["orders_received"] == 1


@pytest.mark.django_db(transaction=True)
def test_the_stream_outlives_the_end_of_the_session(kite, kite_fake, sink):
    from tests.execution.brokers.conftest import ExchangeFactory, InstrumentFactory

    InstrumentFactory(symbol="INFY", exchange=ExchangeFactory(code="NSE"))
    account = kite_account_make(kite_fake)
    stop, runner = _run_stream(kite, account)
    try:
        _until(lambda: kite_fake.control("stats")["sockets"] == 1)
        # when Kite ends the session while an update needs a read (the fill's trades)
        kite_fake.control("expire_session")
        _outside_buy(kite_fake)
        # then the account shows session_expired and the runner waits for the next login
        _until(lambda: _status(account) == "session_expired")
        assert runner.is_alive()
    finally:
        stop.set()
        runner.join(timeout=5)
    assert not runner.is_alive()
