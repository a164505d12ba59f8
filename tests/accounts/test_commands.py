"""Management commands: seed_demo (idempotent), issue_api_key (key on the last line)."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts import registry
from accounts.models import (
    AccountMembership,
    ApiKey,
    RiskLimits,
    TradingAccount,
    User,
)
from oms_site.registry import Registry

pytestmark = pytest.mark.django_db


def _snapshot() -> dict[str, list]:
    return {
        "users": sorted(User.objects.values_list("username", "role", "is_staff", "is_superuser")),
        "accounts": sorted(
            TradingAccount.objects.values_list("id", "name", "broker", "cash", "currency")
        ),
        "memberships": sorted(
            AccountMembership.objects.values_list("user__username", "account__name", "role")
        ),
        "limits": sorted(RiskLimits.objects.values_list("account_id", flat=True)),
    }


def _run_seed(monkeypatch, password="demo-pass-123") -> str:
    monkeypatch.setenv("OMS_DEMO_PASSWORD", password)
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_creates_the_demo_world(monkeypatch):
    # When the demo is seeded
    output = _run_seed(monkeypatch, password="pw-for-test-1")
    # Then the users have their roles and the demo password
    roles = dict(User.objects.values_list("username", "role"))
    assert roles == {
        "admin": "admin",
        "dealer": "dealer",
        "trader": "trader",
        "viewer": "viewer",
        "client_a": "trader",
        "client_b": "trader",
        "house": "trader",  # owns the market maker's account; cannot sign in
    }
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert admin.check_password("pw-for-test-1")
    # And the memberships are as described
    memberships = set(
        AccountMembership.objects.values_list("user__username", "account__name", "role")
    )
    assert memberships == {
        ("client_a", "Client A — Paper", "owner"),
        ("dealer", "Client A — Paper", "trade"),
        ("client_b", "Client B — Exchange", "owner"),
        ("dealer", "Client B — Exchange", "trade"),
        ("trader", "Trader — Paper", "owner"),
        ("viewer", "Trader — Paper", "view"),
        ("trader", "Trader — Exchange", "owner"),
        ("house", "House — Market maker", "owner"),
    }
    # And every account but the house's starts with 1,000,000 INR and has risk limits
    for account in TradingAccount.objects.exclude(name="House — Market maker"):
        assert (account.cash, account.starting_cash, account.currency) == (
            Decimal("1000000"),
            Decimal("1000000"),
            "INR",
        )
        assert RiskLimits.objects.filter(account=account).exists()
    brokers = dict(TradingAccount.objects.values_list("name", "broker"))
    assert brokers["Client B — Exchange"] == "exchange"
    assert brokers["Trader — Paper"] == "paper"
    # And the logins are printed
    assert "pw-for-test-1" in output and "dealer" in output


def test_seed_demo_twice_gives_the_same_rows(monkeypatch):
    _run_seed(monkeypatch)
    first = _snapshot()
    _run_seed(monkeypatch)
    assert _snapshot() == first


def test_seed_demo_restores_a_changed_demo_password(monkeypatch):
    _run_seed(monkeypatch)
    trader = User.objects.get(username="trader")
    trader.set_password("something-else")
    trader.save()
    _run_seed(monkeypatch)
    trader.refresh_from_db()
    assert trader.check_password("demo-pass-123")


def test_seed_demo_runs_registered_seeders_in_order(monkeypatch):
    # Given two registered seeders (as marketdata and orders would do from ready())
    calls: list[str] = []
    monkeypatch.setattr(registry, "DEMO_SEEDERS", Registry("demo seeder"))
    registry.register_demo_seeder("instruments", lambda: calls.append("instruments") or "3 new")
    registry.register_demo_seeder("orders", lambda: calls.append("orders"))
    # When seeding
    output = _run_seed(monkeypatch)
    # Then each ran once, in registration order, after the accounts existed
    assert calls == ["instruments", "orders"]
    assert "instruments: 3 new" in output


def test_issue_api_key_creates_a_user_and_prints_the_key_last(monkeypatch):
    # When a key is issued for a new user
    out = StringIO()
    call_command("issue_api_key", "algo1", "--create", "--role", "dealer", stdout=out)
    # Then the last line alone is a working token for that user
    last_line = out.getvalue().strip().splitlines()[-1]
    assert " " not in last_line
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {last_line}")
    me = client.get("/api/v1/me").json()
    assert me["username"] == "algo1" and me["role"] == "dealer"


def test_issue_api_key_default_role_is_trader():
    out = StringIO()
    call_command("issue_api_key", "algo2", "--create", stdout=out)
    assert User.objects.get(username="algo2").role == "trader"


def test_issue_api_key_for_an_existing_user_adds_a_key():
    User.objects.create_user(username="existing", password="x")
    call_command("issue_api_key", "existing", stdout=StringIO())
    call_command("issue_api_key", "existing", "--create", stdout=StringIO())
    assert ApiKey.objects.filter(user__username="existing").count() == 2


def test_issue_api_key_refuses_a_missing_user_without_create():
    with pytest.raises(CommandError, match="--create"):
        call_command("issue_api_key", "ghost", stdout=StringIO())
    assert not User.objects.filter(username="ghost").exists()


def test_issue_api_key_rejects_an_unknown_role():
    with pytest.raises(CommandError):
        call_command("issue_api_key", "x", "--create", "--role", "god", stdout=StringIO())
