"""Drivers of the real-broker adapters, each against its loopback wire fake (in-process).

alpaca: the fake's control API fills; the adapter's stream follower runs in a thread and its
reports are relayed into the test thread. kite: the fake's control API fills; its updates
reach OMS through the adapter's catch-up poll (or the postback endpoint, or the ticker stream
in a thread for the stream faults).
"""

from __future__ import annotations

import threading
from decimal import Decimal

import requests
from django.db import DatabaseError

from accounts.crypto import encrypt_credentials
from accounts.models import BrokerConnection
from execution.adapters.alpaca import AlpacaBroker
from execution.adapters.alpaca_stream import AlpacaStreamFollower
from execution.adapters.kite_mapping import order_tag
from execution.fakes.alpaca_server import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, alpaca_fake_server
from execution.fakes.alpaca_state import dict_quote_source
from execution.fakes.kite_server import KiteFakeServer
from execution.registry import emit_reports, get_adapter, register_adapter
from tests.execution.brokers.conftest import API_KEY, API_SECRET, Quotes, kite_account_make
from tests.execution.conformance.drivers import VenueDriver, VenueOrderTotal, weighted
from tests.execution.conformance.relay import Relay
from tests.factories import MembershipFactory, RiskLimitsFactory, TradingAccountFactory
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory
from tests.polling import wait_for

FAST_POLICY = {
    "timeout_s": 3,
    "backoff_base_s": 0.01,
    "backoff_max_s": 0.02,
    "max_attempts": 3,
    "failure_threshold": 3,
    "cooldown_s": 60,
}


def _dec(value) -> Decimal:
    return Decimal(str(value))


class StreamThread:
    """A broker stream (`run(stop)`) followed in its own thread until `close()`; restarted when
    it fails, as the stream runner (execution.streams) restarts it (here: SQLite's in-memory
    test database refuses a write from this thread while the test thread writes)."""

    def __init__(self, run) -> None:
        self.stop = threading.Event()
        self.failures: list[Exception] = []
        self.thread = threading.Thread(target=self._run, args=(run,), daemon=True)
        self.thread.start()

    def _run(self, run) -> None:
        while not self.stop.is_set():
            try:
                run(self.stop)
            except DatabaseError as exc:
                self.failures.append(exc)
                self.stop.wait(0.05)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "the stream thread did not stop"


class AlpacaDriver(VenueDriver):
    name = "alpaca"

    def __init__(self, *, trader, client, tick) -> None:
        self.quotes = {"AAPL": {"bid": "99.90", "ask": "100.10", "last": "100"}}
        self._server_cm = alpaca_fake_server(quote_source=dict_quote_source(self.quotes))
        self.fake = self._server_cm.__enter__()
        register_adapter("alpaca", AlpacaBroker)  # fresh: no cached clients or states
        self.broker = get_adapter("alpaca")
        super().__init__(trader=trader, client=client, tick=tick)
        self.relay = Relay()
        self.follower = AlpacaStreamFollower(self.broker, str(self.account.pk))
        self.stream = StreamThread(self.follower.run)
        wait_for(lambda: self.follower.connects >= 1)

    def instrument(self):
        return InstrumentFactory(
            symbol="APPLE", tick_size=Decimal("0.01"), broker_symbols={"alpaca": "AAPL"}
        )

    def make_account(self):
        connection = BrokerConnection.objects.create(
            name="Alpaca paper",
            broker="alpaca",
            credentials_encrypted=encrypt_credentials(
                {"key_id": DEFAULT_KEY_ID, "secret_key": DEFAULT_SECRET_KEY}
            ),
            settings={
                "base_url": self.fake.base_url,
                "stream_url": self.fake.ws_url + "/stream",
                "timeout_s": 0.5,
                "reconnect_min_s": 0.05,
                "catchup_s": 30,
            },
        )
        account = TradingAccountFactory(
            broker="alpaca", connection=connection, currency="USD", cash=Decimal("100000")
        )
        MembershipFactory(user=self.trader, account=account, role="owner")
        RiskLimitsFactory(account=account)
        return account

    def stop(self) -> None:
        self.stream.close()
        self.relay.close()
        self._server_cm.__exit__(None, None, None)

    # control API
    def control(self, method: str, path: str, body: dict | None = None):
        response = requests.request(
            method, self.fake.base_url + "/_fake" + path, json=body, timeout=5
        )
        assert response.status_code == 200, response.text
        return response.json()

    def fake_orders(self) -> list[dict]:
        return self.control("GET", "/orders")

    def _current(self, order_id: str) -> dict:
        mine = [o for o in self.fake_orders() if o["client_order_id"].split(".")[0] == order_id]
        [working] = [o for o in mine if not o.get("replaced_by")]
        return working

    def quote(self, *, bid: str, ask: str, last: str) -> None:
        super().quote(bid=bid, ask=ask, last=last)
        self.control("POST", "/quote", {"symbol": "AAPL", "bid": bid, "ask": ask, "last": last})

    def fill(self, order_id: str, *, qty: str, price: str, deliver: bool = True) -> None:
        working = self._current(order_id)
        self.control("POST", f"/orders/{working['id']}/fill", {"qty": qty, "price": price})
        if deliver:
            expected = _dec(working["filled_qty"]) + _dec(qty)
            self.deliver(lambda: self._oms_filled(order_id) >= expected)

    def _oms_filled(self, order_id: str) -> Decimal:
        return _dec(self.client.get(f"/api/v1/orders/{order_id}").json()["filled_qty"])

    def deliver(self, until=lambda: True) -> None:
        self.relay.pump(until)
        self.relay.quiet(0.2)

    def venue_totals(self) -> dict[str, VenueOrderTotal]:
        parts: dict[str, list] = {}
        for order in self.fake_orders():
            if not order["client_order_id"]:
                continue
            root = order["client_order_id"].split(".")[0]
            price = order["filled_avg_price"]
            parts.setdefault(root, []).append(
                (_dec(order["filled_qty"]), _dec(price) if price else None)
            )
        totals = {}
        for root, items in parts.items():
            # a replacement counts as the same order (Alpaca's replace makes a new one)
            originals = sum(1 for o in self.fake_orders() if o["client_order_id"] == root)
            totals[root] = VenueOrderTotal(originals, *weighted(items))
        return totals

    # faults
    def arrange_reject(self, message: str) -> str:
        self.control("POST", "/faults", {"kind": "reject", "message": message})
        return f"Alpaca refused the order: {message}"

    def arrange(self, fault: str, **options) -> None:
        specs = {
            "timeout_after_accept": {"kind": "timeout_after_accept", "delay_s": 2},
            "rate_limited": {"kind": "status", "status": 429, "match": "POST /v2/orders"},
            "duplicate": {"kind": "duplicate", "count": 20},
            "out_of_order": {"kind": "out_of_order", "count": 2},
        }
        if fault == "stream_drop":
            # the next events never arrive on the stream; then the stream drops
            self.control("POST", "/faults", {"kind": "lose_events", "count": options["lose"]})
            return
        self.control("POST", "/faults", specs[fault])

    def follow_stream(self) -> None:
        """Already followed: the driver starts the stream follower with the account."""

    def drop_stream(self) -> None:
        seen = self.follower.connects
        self.control("POST", "/stream/drop", {})
        wait_for(lambda: self.follower.connects > seen)

    def go_silent(self) -> None:
        self.control("POST", "/faults", {"kind": "status", "status": 503, "count": 50})


class KiteDriver(VenueDriver):
    name = "kite"

    def __init__(self, *, trader, client, tick) -> None:
        self.quotes = Quotes({"NSE:INFY": {"bid": "99.90", "ask": "100.10", "last": "100"}})
        self.fake = KiteFakeServer(api_key=API_KEY, api_secret=API_SECRET, quotes=self.quotes)
        self.fake.start()
        self.stream: StreamThread | None = None
        self.relay: Relay | None = None
        self.postbacks_sent: int | None = None  # None: postbacks not used
        self.stopped = False
        super().__init__(trader=trader, client=client, tick=tick)
        self.adapter = get_adapter("kite")

    def instrument(self):
        nse = ExchangeFactory(code="NSE", name="National Stock Exchange", timezone="Asia/Kolkata")
        return InstrumentFactory(symbol="INFY", exchange=nse, tick_size=Decimal("0.05"))

    def make_account(self):
        account = kite_account_make(self.fake)
        MembershipFactory(user=self.trader, account=account, role="owner")
        RiskLimitsFactory(account=account)
        return account

    def stop(self) -> None:
        if self.stream is not None:
            self.stream.close()
        if self.relay is not None:
            self.relay.close()
        if not self.stopped:
            self.fake.stop()

    def quote(self, *, bid: str, ask: str, last: str) -> None:
        super().quote(bid=bid, ask=ask, last=last)
        self.quotes["NSE:INFY"] = {"bid": bid, "ask": ask, "last": last}

    def _broker_id(self, order_id: str) -> str:
        tag = order_tag(order_id)
        [broker_id] = [k for k, o in self.fake.book.orders.items() if o["tag"] == tag]
        return broker_id

    def fill(self, order_id: str, *, qty: str, price: str, deliver: bool = True) -> None:
        self.fake.control("fill", order_id=self._broker_id(order_id), qty=qty, price=price)
        if deliver:
            self.deliver()

    def deliver(self, until=lambda: True) -> None:
        """The ticker's updates (when followed), Kite's postbacks (when used), then the
        adapter's catch-up poll (run every minute and after each reconnect), here."""
        if self.postbacks_sent is not None:
            self.post_postbacks()
        if self.relay is not None:
            self.relay.pump(until)
            self.relay.quiet(0.2)
            return
        if self.stopped:  # Kite is not answering: nothing to poll
            assert until()
            return
        emit_reports(self.adapter.poll_reports(account_id=str(self.account.pk)))
        assert until()

    def before_close(self, *, qty: str, bid: str) -> None:
        super().before_close(qty=qty, bid=bid)

    def venue_totals(self) -> dict[str, VenueOrderTotal]:
        tags = {}
        for order_id in self.oms_order_ids():
            tags[order_tag(order_id)] = order_id
        parts: dict[str, list] = {}
        for order in self.fake.book.order_list():
            key = tags.get(order["tag"] or "", order["order_id"])
            trades = [
                (_dec(t["quantity"]), _dec(t["average_price"]))
                for t in self.fake.book.trades
                if t["order_id"] == order["order_id"]
            ]
            parts.setdefault(key, []).extend(trades)
            parts.setdefault(key + "#orders", []).append(order["order_id"])
        return {
            key: VenueOrderTotal(len(parts[key + "#orders"]), *weighted(items))
            for key, items in parts.items()
            if not key.endswith("#orders")
        }

    def oms_order_ids(self) -> list[str]:
        answer = self.client.get(f"/api/v1/orders?account={self.account.pk}&status=all")
        return [o["id"] for o in answer.json()["results"]]

    # faults
    def arrange_reject(self, message: str) -> str:
        self.fake.control("reject_next", count=1, message=message)
        return message

    def arrange(self, fault: str, **options) -> None:
        if fault == "timeout_after_accept":
            self.fake.control("timeout_next", count=1, seconds=3)
        elif fault == "rate_limited":
            self.fake.control("rate_limit_next", count=1)
        elif fault == "duplicate":
            self.fake.control("duplicate_next", count=20)
        elif fault == "out_of_order":
            self.fake.control("reorder_next", count=1)
        elif fault == "stream_drop":
            self.fake.control("drop_ticker_next", count=options["lose"])

    def follow_stream(self) -> None:
        """Follow Kite's ticker in a thread (reports relayed into the test thread)."""
        self.relay = Relay()
        self.stream = StreamThread(
            lambda stop: self.adapter.stream_run(account_id=str(self.account.pk), stop=stop)
        )
        wait_for(lambda: self.fake.control("stats")["sockets"] >= 1)

    def drop_stream(self) -> None:
        wait_for(lambda: self.fake.control("stats")["sockets"] >= 1, timeout=10)

    def use_postbacks(self) -> None:
        """Deliver Kite's postbacks (as Kite sent them: repeats and order included) to OMS's
        postback endpoint."""
        self.postbacks_sent = len(self.fake.control("postbacks"))

    def post_postbacks(self) -> None:
        sent = self.fake.control("postbacks")
        for payload in sent[self.postbacks_sent :]:
            answer = self.client.post(
                f"/api/v1/brokers/kite/postback/{self.account.pk}", payload, format="json"
            )
            assert answer.status_code == 200, answer.json()
        self.postbacks_sent = len(sent)

    def go_silent(self) -> None:
        self.fake.stop()
        self.stopped = True
