"""Broker kinds known to accounts: built-ins, a setting, and providers upper apps register."""

from __future__ import annotations

import pytest

from accounts import registry
from oms_site.registry import Registry

pytestmark = pytest.mark.django_db


def test_builtin_kinds_are_always_known():
    assert {"paper", "exchange"} <= set(registry.broker_kinds())


def test_a_registered_provider_makes_a_broker_acceptable(monkeypatch, make_key_client, trader):
    # Given execution registered its adapters' kinds (as it would from ready())
    monkeypatch.setattr(registry, "BROKER_KINDS_PROVIDERS", Registry("provider"))
    registry.register_broker_kinds_provider("execution", lambda: ["zerodha"])
    registry.register_broker_kinds_provider("execution", lambda: ["zerodha"])  # idempotent
    # When a trader opens an account at that broker
    response = make_key_client(trader).post(
        "/api/v1/accounts",
        {"name": "Z", "broker": "zerodha", "starting_cash": "1", "credentials": {"k": "v"}},
        format="json",
    )
    # Then it is accepted
    assert response.status_code == 201
    assert response.json()["broker"] == "zerodha"
    assert registry.broker_kinds().count("zerodha") == 1


def test_the_setting_adds_kinds(settings):
    settings.OMS_EXTRA_BROKER_KINDS = ["upstox"]
    assert "upstox" in registry.broker_kinds()
