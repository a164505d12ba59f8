"""CRUD of strategies (API.md § Strategies and signals): owner only, accounts the owner may
trade, the secret shown once."""

from __future__ import annotations

import pytest

from strategies.models import Strategy
from tests.factories import UserFactory, account_with_member

pytestmark = pytest.mark.django_db


def test_create_shows_the_secret_once_and_the_webhook_url(accounts, make_strategy, client):
    created = make_strategy(
        [(accounts[0], {"type": "fixed_qty", "qty": "5", "max_qty": "10"})],
        defaults={"order_type": "limit", "take_profit": {"ticks": 20}, "stop_loss": {"pct": 1}},
        direction="long_only",
        max_position="50",
    )
    assert created["webhook_url"] == f"http://testserver/api/v1/signals/{created['id']}"
    assert len(created["webhook_secret"]) >= 40
    assert created["accounts"] == [
        {
            "account": str(accounts[0].pk),
            "sizing": {"type": "fixed_qty", "qty": "5", "min_qty": None, "max_qty": "10"},
        }
    ]
    assert created["defaults"]["take_profit"] == {"ticks": "20"}
    assert created["max_position"] == "50"
    # the secret is stored encrypted, and reading the strategy never shows it
    assert created["webhook_secret"] not in Strategy.objects.get().secret_encrypted
    shown = client.get(f"/api/v1/strategies/{created['id']}").json()
    assert "webhook_secret" not in shown
    assert client.get("/api/v1/strategies").json()["count"] == 1


def test_an_account_the_owner_may_not_trade_is_a_400_naming_it(accounts, client, trader):
    stranger_account = account_with_member(user=UserFactory(username="other"))
    view_only = account_with_member(user=trader, role="viewer")
    for account in (stranger_account, view_only):
        body = {
            "name": "S",
            "accounts": [
                {"account": str(accounts[0].pk), "sizing": {"type": "fixed_qty", "qty": 1}},
                {"account": str(account.pk), "sizing": {"type": "fixed_qty", "qty": 1}},
            ],
        }
        response = client.post("/api/v1/strategies", body, format="json")
        assert response.status_code == 400
        assert response.json()["error"]["fields"] == {
            "accounts.1.account": [f"You may not trade on account {account.pk}."]
        }
    assert Strategy.objects.count() == 0


def test_bad_sizing_and_unknown_fields_are_400(accounts, client):
    def post(sizing, **extra):
        body = {"name": "S", "accounts": [{"account": str(accounts[0].pk), "sizing": sizing}]}
        return client.post("/api/v1/strategies", {**body, **extra}, format="json")

    missing = post({"type": "fixed_value"})
    assert missing.status_code == 400
    assert list(missing.json()["error"]["fields"]) == ["accounts.0.sizing.value"]
    assert (
        "accounts.0.sizing.bogus"
        in post({"type": "fixed_qty", "qty": 1, "bogus": 1}).json()["error"]["fields"]
    )
    assert (
        "symbols.X"
        in post({"type": "fixed_qty", "qty": 1}, symbols={"X": "NOPE"}).json()["error"]["fields"]
    )


def test_other_users_strategies_and_signals_are_404(accounts, make_strategy, make_key_client, send):
    strategy = make_strategy([(accounts[0], {"type": "fixed_qty", "qty": "1"})])
    signal_id = send(strategy, {"symbol": "ACME", "action": "buy"}).json()["signal_id"]
    other = make_key_client(UserFactory(username="nosy"))
    base = f"/api/v1/strategies/{strategy['id']}"
    assert other.get(base).status_code == 404
    assert other.patch(base, {"name": "mine"}, format="json").status_code == 404
    assert other.delete(base).status_code == 404
    for action in ("pause", "resume", "rotate-secret"):
        assert other.post(f"{base}/{action}").status_code == 404
    assert other.get(f"{base}/signals").status_code == 404
    assert other.get(f"/api/v1/signals/{signal_id}").status_code == 404
    assert other.get("/api/v1/strategies").json()["count"] == 0
    assert Strategy.objects.get().name == "Trend"


def test_patch_replaces_accounts_and_delete_retires_the_webhook(
    accounts, make_strategy, client, send
):
    strategy = make_strategy([(accounts[0], {"type": "fixed_qty", "qty": "1"})])
    url = f"/api/v1/strategies/{strategy['id']}"
    patched = client.patch(
        url,
        {"accounts": [{"account": str(accounts[1].pk), "sizing": {"type": "fixed_qty", "qty": 2}}]},
        format="json",
    )
    assert patched.status_code == 200
    assert [a["account"] for a in patched.json()["accounts"]] == [str(accounts[1].pk)]
    assert patched.json()["name"] == "Trend"
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    assert send(strategy, {"symbol": "ACME", "action": "buy"}).status_code == 404


def test_an_idempotency_key_replays_the_creation_without_the_secret(accounts, client):
    body = {
        "name": "S",
        "accounts": [{"account": str(accounts[0].pk), "sizing": {"type": "fixed_qty", "qty": 1}}],
    }
    first = client.post("/api/v1/strategies", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = client.post("/api/v1/strategies", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert "webhook_secret" in first.json() and "webhook_secret" not in again.json()
    assert Strategy.objects.count() == 1
