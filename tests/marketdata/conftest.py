"""Fixtures for market data tests: instruments, a clean listener registry and publisher."""

from __future__ import annotations

import pytest

from marketdata import listeners
from marketdata.push import reset_quote_publisher
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 costs ~2 s per test user on this machine; these tests are not about passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_publisher():
    # Throttle state is per process: start every test with none.
    reset_quote_publisher()
    yield
    reset_quote_publisher()


@pytest.fixture
def no_listeners():
    """Run with an empty tick-listener registry (other apps' listeners restored after)."""
    with listeners.TICK_LISTENERS.overridden():
        yield listeners


@pytest.fixture
def sim_exchange(db):
    return ExchangeFactory()


@pytest.fixture
def acme(sim_exchange):
    return InstrumentFactory(symbol="ACME", exchange=sim_exchange)


@pytest.fixture
def globex(sim_exchange):
    return InstrumentFactory(symbol="GLOBEX", exchange=sim_exchange)
