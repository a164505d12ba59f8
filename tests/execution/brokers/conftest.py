"""Fixtures for the real-broker adapters: the Kite fake on a free port, a Kite account."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from accounts.crypto import encrypt_credentials
from accounts.models import BrokerConnection
from execution import registry
from execution.fakes.kite_book import sha256_hex
from execution.fakes.kite_server import KiteFakeServer
from tests.factories import TradingAccountFactory
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory

API_KEY = "kite_test_key"
API_SECRET = "kite_test_secret"


class Quotes(dict):
    """A dict-backed quote source: quotes["NSE:INFY"] = {"bid", "ask", "last"}."""

    def __call__(self, symbol: str):
        return self.get(symbol)


@pytest.fixture
def quotes() -> Quotes:
    return Quotes({"NSE:INFY": {"bid": Decimal("1500"), "ask": Decimal("1501"), "last": 1500}})


@pytest.fixture
def kite_fake(quotes):
    server = KiteFakeServer(api_key=API_KEY, api_secret=API_SECRET, quotes=quotes).start()
    yield server
    server.stop()


def kite_login(server: KiteFakeServer) -> str:
    """A fresh access token from the fake, through its own login protocol."""
    request_token = server.control("request_token")["request_token"]
    answer = requests.post(
        f"{server.root}/session/token",
        data={
            "api_key": API_KEY,
            "request_token": request_token,
            "checksum": sha256_hex(API_KEY, request_token, API_SECRET),
        },
        timeout=5,
    )
    return answer.json()["data"]["access_token"]


@pytest.fixture
def nse(db):
    return ExchangeFactory(code="NSE", name="National Stock Exchange", timezone="Asia/Kolkata")


@pytest.fixture
def infy(nse):
    return InstrumentFactory(symbol="INFY", exchange=nse, tick_size=Decimal("0.05"))


def kite_account_make(server: KiteFakeServer, *, logged_in: bool = True, **settings):
    credentials = {"api_key": API_KEY, "api_secret": API_SECRET}
    if logged_in:
        credentials["access_token"] = kite_login(server)
    connection = BrokerConnection.objects.create(
        name="Kite",
        broker="kite",
        credentials_encrypted=encrypt_credentials(credentials),
        settings={
            "root": server.root,
            "ticker_url": server.ticker_url,
            "login_url": server.login_url,
            "timeout_s": 2,
            **settings,
        },
    )
    return TradingAccountFactory(broker="kite", connection=connection)


@pytest.fixture
def kite_account(kite_fake, infy):
    return kite_account_make(kite_fake)


@pytest.fixture(autouse=True)
def _fresh_kite_adapter():
    registry._adapters.pop("kite", None)
    yield
    registry._adapters.pop("kite", None)
