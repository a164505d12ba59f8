"""Fixtures for the Alpaca adapter tests: the fake started in-process, an Alpaca account
whose connection points at it, and a stream follower running in a thread."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
import requests

from accounts.crypto import encrypt_credentials
from accounts.models import BrokerConnection
from execution.adapters.alpaca import AlpacaBroker
from execution.adapters.alpaca_stream import AlpacaStreamFollower
from execution.fakes.alpaca_server import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, alpaca_fake_server
from execution.fakes.alpaca_state import dict_quote_source
from execution.registry import get_adapter, register_adapter
from tests.factories import TradingAccountFactory
from tests.marketdata.factories import InstrumentFactory

__all__ = ["account", "broker", "control", "fake", "fast_policy", "follow", "instrument", "quotes"]

OMS_SYMBOL = "APPLE"  # OMS's name; Alpaca calls it AAPL (Instrument.broker_symbols)


class FakeControl:
    """The fake's private control API, as the tests use it."""

    def __init__(self, server) -> None:
        self.server = server

    def __call__(self, method: str, path: str, body: dict | None = None):
        response = requests.request(
            method, self.server.base_url + "/_fake" + path, json=body, timeout=5
        )
        assert response.status_code == 200, response.text
        return response.json()

    def orders(self) -> list[dict]:
        return self("GET", "/orders")

    def posts(self) -> int:
        return self("GET", "/requests").count(["POST", "/v2/orders"])

    def fault(self, **spec) -> None:
        self("POST", "/faults", spec)

    def quote(self, **values) -> None:
        self("POST", "/quote", {"symbol": "AAPL", **values})


@pytest.fixture
def quotes():
    return {"AAPL": {"bid": "189.90", "ask": "190.10", "last": "190.00"}}


@pytest.fixture
def fake(quotes):
    with alpaca_fake_server(quote_source=dict_quote_source(quotes)) as server:
        yield server


@pytest.fixture
def control(fake):
    return FakeControl(fake)


@pytest.fixture
def fast_policy(settings):
    settings.OMS_BROKER_POLICIES = {
        "alpaca": {
            "timeout_s": 3,
            "backoff_base_s": 0.01,
            "backoff_max_s": 0.02,
            "max_attempts": 3,
            "failure_threshold": 3,
            "cooldown_s": 60,
        }
    }


@pytest.fixture
def broker(fast_policy) -> AlpacaBroker:
    register_adapter("alpaca", AlpacaBroker)  # a fresh adapter: no cached clients or states
    return get_adapter("alpaca")


def make_connection(fake, *, key_id=DEFAULT_KEY_ID, secret_key=DEFAULT_SECRET_KEY, **settings):
    return BrokerConnection.objects.create(
        name="Alpaca paper",
        broker="alpaca",
        credentials_encrypted=encrypt_credentials({"key_id": key_id, "secret_key": secret_key}),
        settings={
            "base_url": fake.base_url,
            "stream_url": fake.ws_url + "/stream",
            "timeout_s": 0.5,
            "reconnect_min_s": 0.05,
            "catchup_s": 30,
            **settings,
        },
    )


@pytest.fixture
def instrument(transactional_db):
    return InstrumentFactory(symbol=OMS_SYMBOL, broker_symbols={"alpaca": "AAPL"})


@pytest.fixture
def account(fake, instrument):
    return TradingAccountFactory(
        broker="alpaca",
        connection=make_connection(fake),
        currency="USD",
        cash=Decimal("100000"),
        starting_cash=Decimal("100000"),
    )


class Follower:
    """A stream follower running in its own thread until the test ends."""

    def __init__(self, broker: AlpacaBroker, account_id: str) -> None:
        self.stop = threading.Event()
        self.follower = AlpacaStreamFollower(broker, account_id)
        self.thread = threading.Thread(target=self.follower.run, args=(self.stop,), daemon=True)

    def start(self, *, connected: bool = True) -> Follower:
        from tests.polling import wait_for

        self.thread.start()
        if connected:
            wait_for(lambda: self.follower.connects >= 1)
        return self

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "the stream follower did not stop"


@pytest.fixture
def follow(broker):
    running: list[Follower] = []

    def _follow(account, *, connected: bool = True) -> Follower:
        follower = Follower(broker, str(account.pk))
        running.append(follower)
        return follower.start(connected=connected)

    yield _follow
    for follower in running:
        follower.close()
