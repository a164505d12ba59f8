"""Fixtures for strategies: an always-open SIM instrument quoted at 100, accounts of one
trader on the deterministic fake broker, a strategy made through the API, and a sender
that signs signals the way an outside client does."""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal

import pytest

from tests.factories import account_with_member
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory

# The deterministic fake venue of the orders tests, with its fast broker policy.
from tests.orders.conftest import _fast_fake_broker, fake_broker  # noqa: F401


@pytest.fixture
def acme(db):
    from marketdata.services import tick_ingest

    instrument = InstrumentFactory(
        symbol="ACME", exchange=ExchangeFactory(), tick_size=Decimal("0.05"), lot_size=Decimal("1")
    )
    tick_ingest(symbol="ACME", last="100", bid="99.95", ask="100.05", volume=1, source="test")
    return instrument


@pytest.fixture
def accounts(trader, fake_broker, acme):  # noqa: F811 (the imported fixture)
    """Three accounts of `trader`, each with 1,000,000 cash."""
    return [
        account_with_member(user=trader, broker="fake", cash=Decimal("1000000"), name=name)
        for name in ("Alpha", "Beta", "Gamma")
    ]


@pytest.fixture
def client(trader, make_key_client):
    return make_key_client(trader)


@pytest.fixture
def make_strategy(client):
    """POST /api/v1/strategies; returns the answer (with webhook_secret)."""

    def _make(members, **extra):
        body = {
            "name": extra.pop("name", "Trend"),
            "accounts": [{"account": str(acc.pk), "sizing": sizing} for acc, sizing in members],
            **extra,
        }
        response = client.post("/api/v1/strategies", body, format="json")
        assert response.status_code == 201, response.json()
        return response.json()

    return _make


def sign(secret: str, raw: bytes) -> str:
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


@pytest.fixture
def send(api_client, django_capture_on_commit_callbacks):
    """POST a signal to a strategy's webhook, signed with X-Signature unless told; what the
    server defers to the commit (the fan-out, the submissions) runs before it returns."""

    def _send(strategy, body, *, secret=None, signed=True, content_type="application/json"):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {}
        if signed:
            headers["HTTP_X_SIGNATURE"] = sign(secret or strategy["webhook_secret"], raw)
        with django_capture_on_commit_callbacks(execute=True):
            return api_client.generic(
                "POST",
                f"/api/v1/signals/{strategy['id']}",
                raw,
                content_type=content_type,
                **headers,
            )

    return _send
