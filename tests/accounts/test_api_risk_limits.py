"""/api/v1/accounts/{id}/risk-limits: everyone on the account reads, only admins write."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import AuditLogEntry, RiskLimits
from tests.factories import account_with_member

pytestmark = pytest.mark.django_db

LIMIT_KEYS = {
    "max_order_value",
    "max_order_qty",
    "max_open_orders",
    "max_orders_per_day",
    "max_daily_loss",
    "price_band_pct",
    "allowed_symbols",
    "allow_short",
    "kill_switch",
    "max_orders_per_minute",
}


def _url(account) -> str:
    return f"/api/v1/accounts/{account.pk}/risk-limits"


def test_member_reads_default_limits(make_key_client, viewer):
    # Given a view-only member of a fresh account
    account = account_with_member(user=viewer, role="view")
    # When they read its limits
    response = make_key_client(viewer).get(_url(account))
    # Then every API.md field is there, all limits null, no shorting, no kill switch
    assert response.status_code == 200
    body = response.json()
    assert set(body) == LIMIT_KEYS
    assert body["max_order_value"] is None and body["allowed_symbols"] is None
    assert body["allow_short"] is False and body["kill_switch"] is False


def test_admin_sets_limits_and_the_change_is_audited(make_key_client, admin_user, trader):
    # Given a trader's account
    account = account_with_member(user=trader)
    # When an admin patches some limits
    response = make_key_client(admin_user).patch(
        _url(account) + "/",
        {
            "max_order_value": "500000",
            "max_order_qty": 1000,
            "max_open_orders": 20,
            "price_band_pct": "5.5",
            "allowed_symbols": ["acme", " FOO ", "ACME"],
            "allow_short": True,
            "max_orders_per_minute": 60,
        },
        format="json",
    )
    # Then they are stored (symbols cleaned) and returned as strings / ints
    assert response.status_code == 200
    body = response.json()
    assert body["max_order_value"] == "500000"
    assert body["max_order_qty"] == "1000"
    assert body["price_band_pct"] == "5.5"
    assert body["allowed_symbols"] == ["ACME", "FOO"]
    assert body["max_orders_per_minute"] == 60
    assert body["max_daily_loss"] is None
    # And the audit records old → new
    entry = AuditLogEntry.objects.get(action="risk_limits.update")
    assert entry.actor == admin_user
    assert entry.data["changes"]["max_order_value"] == {"old": None, "new": "500000"}
    assert entry.data["changes"]["allow_short"] == {"old": False, "new": True}
    # And the trader sees the same limits
    assert make_key_client(trader).get(_url(account)).json() == body


def test_null_removes_a_limit(make_key_client, admin_user):
    account = account_with_member(user=admin_user)
    RiskLimits.objects.filter(account=account).update(max_open_orders=5)
    body = (
        make_key_client(admin_user)
        .patch(_url(account), {"max_open_orders": None}, format="json")
        .json()
    )
    assert body["max_open_orders"] is None


def test_owner_may_not_change_limits(make_key_client, trader):
    # Given an owner (not an admin)
    account = account_with_member(user=trader)
    # When they try to lift their own limits
    response = make_key_client(trader).patch(_url(account), {"kill_switch": True}, format="json")
    # Then 403 and nothing changed
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert RiskLimits.objects.get(account=account).kill_switch is False


def test_non_member_gets_404_for_read_and_write(make_key_client, trader, other_trader):
    theirs = account_with_member(user=other_trader)
    client = make_key_client(trader)
    assert client.get(_url(theirs)).status_code == 404
    assert client.patch(_url(theirs), {"allow_short": True}, format="json").status_code == 404


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"max_order_value": "-1"}, "max_order_value"),
        ({"max_order_qty": "abc"}, "max_order_qty"),
        ({"max_open_orders": -3}, "max_open_orders"),
        ({"max_orders_per_day": 1.5}, "max_orders_per_day"),
        ({"price_band_pct": "100.5"}, "price_band_pct"),
        ({"price_band_pct": "-0.1"}, "price_band_pct"),
        ({"allowed_symbols": "ACME"}, "allowed_symbols"),
        ({"allowed_symbols": ["ACME", 5]}, "allowed_symbols"),
        ({"allowed_symbols": [""]}, "allowed_symbols"),
        ({"allow_short": None}, "allow_short"),
        ({"max_leverage": 3}, "max_leverage"),
    ],
)
def test_bad_limits_are_400_and_change_nothing(make_key_client, admin_user, payload, field):
    # Given an account with one limit set
    account = account_with_member(user=admin_user)
    RiskLimits.objects.filter(account=account).update(max_order_value=Decimal("100"))
    # When an admin sends a bad value alongside a good one
    response = make_key_client(admin_user).patch(
        _url(account), {"max_open_orders": 7, **payload}, format="json"
    )
    # Then 400 names the bad field and nothing at all was written
    assert response.status_code == 400
    named = response.json()["error"]["fields"]
    assert any(name.split(".")[0] == field for name in named), named
    limits = RiskLimits.objects.get(account=account)
    assert limits.max_order_value == Decimal("100")
    assert limits.max_open_orders is None
    assert not AuditLogEntry.objects.filter(action="risk_limits.update").exists()
