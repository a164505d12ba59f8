"""The Kite fake speaks Kite Connect v3 as the official SDK expects it (no OMS code)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from execution.fakes.kite_book import sha256_hex
from tests.execution.brokers.conftest import API_KEY, API_SECRET


@pytest.fixture
def kite(kite_fake) -> KiteConnect:
    request_token = kite_fake.control("request_token")["request_token"]
    client = KiteConnect(API_KEY, root=kite_fake.root, timeout=2)
    client.generate_session(request_token, api_secret=API_SECRET)
    return client


def _buy(kite: KiteConnect, **extra) -> str:
    params = {
        "variety": "regular",
        "exchange": "NSE",
        "tradingsymbol": "INFY",
        "transaction_type": "BUY",
        "quantity": 10,
        "product": "CNC",
        "order_type": "MARKET",
    }
    params.update(extra)
    return kite.place_order(**params)


def test_login_redirects_with_a_request_token_that_the_checksum_exchanges(kite_fake):
    # given an app whose redirect URL is configured
    kite_fake.control("config", redirect_url="http://127.0.0.1:9/kite/callback")
    # when the user opens the login URL
    answer = requests.get(
        kite_fake.login_url, params={"api_key": API_KEY, "v": 3}, allow_redirects=False, timeout=5
    )
    # then Kite redirects with a request_token, which the SDK exchanges for an access token
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith("http://127.0.0.1:9/kite/callback?")
    request_token = location.split("request_token=")[1]
    client = KiteConnect(API_KEY, root=kite_fake.root)
    session = client.generate_session(request_token, api_secret=API_SECRET)
    assert session["access_token"] and client.profile()["user_id"] == "AB1234"
    # and a request token works once only
    with pytest.raises(kex.TokenException):
        client.generate_session(request_token, api_secret=API_SECRET)


def test_a_wrong_checksum_or_api_key_is_refused(kite_fake):
    request_token = kite_fake.control("request_token")["request_token"]
    with pytest.raises(kex.TokenException, match="checksum"):
        KiteConnect(API_KEY, root=kite_fake.root).generate_session(request_token, "wrong")
    answer = requests.get(
        kite_fake.login_url, params={"api_key": "nope"}, allow_redirects=False, timeout=5
    )
    assert answer.status_code == 400 and answer.json()["error_type"] == "InputException"


def test_requests_need_the_version_header_and_a_valid_session(kite, kite_fake):
    no_version = requests.get(
        f"{kite_fake.root}/user/profile",
        timeout=5,
        headers={"Authorization": f"token {API_KEY}:{kite.access_token}"},
    )
    assert no_version.status_code == 400
    wrong = requests.get(
        f"{kite_fake.root}/user/profile",
        timeout=5,
        headers={"X-Kite-Version": "3", "Authorization": f"token {API_KEY}:x"},
    )
    assert wrong.status_code == 403
    assert wrong.json() == {
        "status": "error",
        "message": "Incorrect `api_key` or `access_token`.",
        "error_type": "TokenException",
    }
    kite_fake.control("expire_session")
    with pytest.raises(kex.TokenException) as caught:
        kite.margins()
    assert caught.value.code == 403


def test_a_market_order_fills_at_the_quote_with_history_and_trades(kite, kite_fake):
    order_id = _buy(kite, tag="abc123")
    history = kite.order_history(order_id)
    assert [row["status"] for row in history] == ["OPEN", "COMPLETE"]
    assert history[-1]["tag"] == "abc123" and history[-1]["average_price"] == 1501
    trades = kite.order_trades(order_id)
    assert [(t["quantity"], t["average_price"]) for t in trades] == [(10, 1501)]
    assert kite.trades() == trades
    position = kite.positions()["net"][0]
    assert (position["tradingsymbol"], position["quantity"]) == ("INFY", 10)
    assert kite.margins()["equity"]["available"]["cash"] == 1_000_000 - 15010


def test_limit_order_partial_fill_modify_cancel(kite, kite_fake, quotes):
    order_id = _buy(kite, order_type="LIMIT", price=1490)
    assert kite.order_history(order_id)[-1]["status"] == "OPEN"  # does not cross the ask
    kite_fake.control("partial_next", qty=4)
    quotes["NSE:INFY"] = {"bid": 1488, "ask": 1489, "last": 1489}
    kite_fake.control("match")
    order = kite.order_history(order_id)[-1]
    assert (order["status"], order["filled_quantity"], order["pending_quantity"]) == ("OPEN", 4, 6)
    quotes["NSE:INFY"] = {"bid": 1500, "ask": 1501, "last": 1500}
    kite.modify_order("regular", order_id, quantity=12, price=1495)
    order = kite.order_history(order_id)[-1]
    assert (order["quantity"], order["price"], order["modified"]) == (12, 1495, True)
    kite.cancel_order("regular", order_id)
    order = kite.order_history(order_id)[-1]
    assert (order["status"], order["cancelled_quantity"]) == ("CANCELLED", 8)
    with pytest.raises(kex.OrderException):
        kite.cancel_order("regular", order_id)


def test_bad_orders_are_input_exceptions(kite):
    with pytest.raises(kex.InputException):
        _buy(kite, quantity=0)
    with pytest.raises(kex.InputException):
        _buy(kite, order_type="LIMIT")  # no price
    with pytest.raises(kex.InputException):
        _buy(kite, tag="x" * 21)


def test_reject_and_rate_limit_faults(kite, kite_fake):
    kite_fake.control("reject_next", message="RMS: margin exceeds")
    order_id = _buy(kite)
    order = kite.order_history(order_id)[-1]
    assert (order["status"], order["status_message"]) == ("REJECTED", "RMS: margin exceeds")
    kite_fake.control("rate_limit_next", count=1)
    with pytest.raises(kex.NetworkException) as caught:
        _buy(kite)
    assert caught.value.code == 429


def test_kite_own_limit_answers_429_on_the_11th_order_in_a_second(kite, kite_fake):
    answers = []
    for _ in range(11):
        try:
            answers.append(_buy(kite, order_type="LIMIT", price=1))
        except kex.NetworkException as exc:
            answers.append(exc.code)
    assert answers[-1] == 429 and all(isinstance(a, str) for a in answers[:10])


def test_timeout_after_accepting_keeps_the_order(kite, kite_fake):
    kite_fake.control("timeout_next", seconds=1.5)
    kite.timeout = 0.3
    with pytest.raises(requests.Timeout):
        _buy(kite, tag="lost")
    kite.timeout = 2
    assert [o["tag"] for o in kite.orders()] == ["lost"]


def test_ticker_sends_every_order_of_the_account_and_postbacks_carry_a_checksum(kite, kite_fake):
    url = f"{kite_fake.ticker_url}?api_key={API_KEY}&access_token={kite.access_token}"
    with connect(url, open_timeout=5) as socket:
        _wait_for_socket(kite_fake)
        ours = _buy(kite, tag="ours")
        outside = kite_fake.control(
            "outside_order",
            exchange="NSE",
            tradingsymbol="INFY",
            transaction_type="SELL",
            quantity=3,
            product="CNC",
            order_type="MARKET",
        )["order_id"]
        frames = _text_frames(socket, 4)
    assert [(f["data"]["order_id"], f["data"]["status"]) for f in frames] == [
        (ours, "OPEN"),
        (ours, "COMPLETE"),
        (outside, "OPEN"),
        (outside, "COMPLETE"),
    ]
    assert {f["type"] for f in frames} == {"order"}
    postback = kite_fake.control("postbacks")[-1]
    assert postback["order_id"] == ours and postback["status"] == "COMPLETE"
    assert postback["checksum"] == sha256_hex(ours, postback["order_timestamp"], API_SECRET)


def test_ticker_refuses_a_bad_token(kite_fake):
    with pytest.raises(InvalidStatus) as caught:
        connect(f"{kite_fake.ticker_url}?api_key={API_KEY}&access_token=bad", open_timeout=5)
    assert caught.value.response.status_code == 403


def test_duplicate_reordered_and_dropped_ticker_updates(kite, kite_fake):
    url = f"{kite_fake.ticker_url}?api_key={API_KEY}&access_token={kite.access_token}"
    with connect(url, open_timeout=5) as socket:
        _wait_for_socket(kite_fake)
        kite_fake.control("duplicate_next", count=1)
        kite_fake.control("reorder_next", count=1)
        order_id = _buy(kite)
        statuses = [f["data"]["status"] for f in _text_frames(socket, 3)]
        # the OPEN update was held back and arrives after COMPLETE; COMPLETE came twice
        assert statuses == ["COMPLETE", "COMPLETE", "OPEN"]
        kite_fake.control("drop_ticker_next", count=1)
        _buy(kite)
        with pytest.raises(ConnectionClosed):
            _text_frames(socket, 1)
    assert kite.order_history(order_id)[-1]["status"] == "COMPLETE"


def _wait_for_socket(server) -> None:
    import time

    deadline = time.monotonic() + 5
    while server.control("stats")["sockets"] < 1:
        assert time.monotonic() < deadline, "ticker socket not registered"
        time.sleep(0.02)


def _text_frames(socket, count: int) -> list[dict]:
    frames = []
    while len(frames) < count:
        frame = socket.recv(timeout=5)
        if isinstance(frame, str):
            frames.append(json.loads(frame))
    return frames


def test_fills_use_decimal_quotes(kite, kite_fake, quotes):
    quotes["NSE:INFY"] = {"bid": Decimal("1500.05"), "ask": Decimal("1500.10"), "last": None}
    order_id = _buy(kite, quantity=3)
    assert kite.order_trades(order_id)[0]["average_price"] == 1500.1


@pytest.mark.integration
def test_the_management_command_serves_the_fake():
    import subprocess
    import sys
    import time

    from execution.fakes.kite_server import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_fake_broker", "kite", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        root = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                token = requests.post(f"{root}/_fake/request_token", json={}, timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.2)
        client = KiteConnect("fake_api_key", root=root)
        client.generate_session(token.json()["request_token"], api_secret="fake_api_secret")
        assert client.profile()["broker"] == "ZERODHA"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_postbacks_are_posted_as_json_to_the_configured_url(kite, kite_fake):
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[dict] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            received.append(
                {"type": self.headers["Content-Type"], "body": json.loads(self.rfile.read(length))}
            )
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    receiver = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        kite_fake.control("config", postback_url=f"http://127.0.0.1:{receiver.server_port}/pb")
        order_id = _buy(kite)
        import time

        deadline = time.monotonic() + 5
        while not received:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        receiver.shutdown()
    assert received[0]["type"] == "application/json"
    body = received[0]["body"]
    assert (body["order_id"], body["status"], body["user_id"]) == (order_id, "COMPLETE", "AB1234")
    assert body["checksum"] == sha256_hex(order_id, body["order_timestamp"], API_SECRET)


@pytest.mark.django_db(transaction=True)
def test_the_demo_quote_source_reads_oms_quotes_by_kite_symbol(tick):
    from execution.fakes import marketdata_quote_source
    from execution.fakes.kite_server import threaded_quotes
    from tests.marketdata.factories import ExchangeFactory, InstrumentFactory

    nse = ExchangeFactory(code="NSE")
    InstrumentFactory(symbol="INFOSYS", exchange=nse, broker_symbols={"kite": "NSE:INFY"})
    InstrumentFactory(symbol="TCS", exchange=nse)
    tick("INFOSYS", last="1500", bid="1499.5", ask="1500.5")
    tick("TCS", last="4000")
    quotes = threaded_quotes(marketdata_quote_source("kite"))
    assert quotes("NSE:INFY") == {
        "bid": Decimal("1499.5"),
        "ask": Decimal("1500.5"),
        "last": Decimal("1500"),
    }
    assert quotes("NSE:TCS")["last"] == Decimal("4000")  # no Kite symbol: by its own name
    assert quotes("NSE:NOPE") is None


def test_the_fake_takes_quotes_as_objects_too():
    from types import SimpleNamespace

    from execution.fakes.kite_server import threaded_quotes

    quotes = threaded_quotes(lambda symbol: SimpleNamespace(bid=1, ask=2, last=None))
    assert quotes("NSE:INFY") == {"bid": 1, "ask": 2, "last": None}
