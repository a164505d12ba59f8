"""/api/v1/accounts: who sees which account, who may open and change them, and bad input."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from accounts.models import AccountMembership, AuditLogEntry, RiskLimits, TradingAccount
from tests.factories import TradingAccountFactory, account_with_member

pytestmark = pytest.mark.django_db

ACCOUNT_KEYS = {
    "id",
    "name",
    "broker",
    "currency",
    "cash",
    "buying_power",
    "funds",
    "status",
    "starting_cash",
    "created_at",
    "my_role",
    "connection",
}


def test_list_shows_only_the_callers_accounts(make_key_client, trader, other_trader):
    # Given two traders with one account each
    mine = account_with_member(user=trader, name="Mine")
    account_with_member(user=other_trader, name="Theirs")
    # When the first lists accounts
    body = make_key_client(trader).get("/api/v1/accounts").json()
    # Then only their own account is there, paginated
    assert body["count"] == 1
    assert body["next"] is None and body["previous"] is None
    assert [row["id"] for row in body["results"]] == [str(mine.pk)]
    assert body["results"][0]["my_role"] == "owner"


def test_admin_lists_every_account(make_key_client, admin_user, trader):
    # Given accounts owned by others
    account_with_member(user=trader)
    TradingAccountFactory()
    # When an admin lists
    body = make_key_client(admin_user).get("/api/v1/accounts/").json()
    # Then all are visible (trailing slash works too)
    assert body["count"] == 2


def test_list_paginates_with_limit_and_offset(make_key_client, trader):
    # Given three accounts
    for name in ("A", "B", "C"):
        account_with_member(user=trader, name=name)
    # When asking for one page of two
    body = make_key_client(trader).get("/api/v1/accounts?limit=2&offset=1").json()
    # Then the second and third come back with a link to the previous page
    assert body["count"] == 3
    assert [row["name"] for row in body["results"]] == ["B", "C"]
    assert body["previous"] is not None


def test_trader_opens_an_account_and_becomes_owner(make_key_client, trader):
    # When a trader posts a new account
    response = make_key_client(trader).post(
        "/api/v1/accounts",
        {"name": "Swing", "broker": "paper", "starting_cash": "250000.50"},
        format="json",
    )
    # Then it is created with the full shape, cash equal to starting cash
    assert response.status_code == 201
    body = response.json()
    assert set(body) == ACCOUNT_KEYS
    assert body["cash"] == "250000.5"
    assert body["starting_cash"] == "250000.5"
    assert body["buying_power"] == "250000.5"
    assert body["status"] == "active"
    assert body["currency"] == "INR"
    assert body["my_role"] == "owner"
    assert body["connection"] is None
    assert body["created_at"].endswith("Z") or body["created_at"].endswith("+00:00")
    account = TradingAccount.objects.get(pk=body["id"])
    assert AccountMembership.objects.get(account=account).user == trader
    # And it has default risk limits and an audit record
    limits = RiskLimits.objects.get(account=account)
    assert limits.max_order_value is None and limits.allowed_symbols is None
    assert limits.allow_short is False and limits.kill_switch is False
    assert AuditLogEntry.objects.filter(action="account.create", object_id=str(account.pk)).exists()


def test_credentials_are_write_only(make_key_client, trader):
    # When an account is opened with broker credentials
    response = make_key_client(trader).post(
        "/api/v1/accounts",
        {
            "name": "With login",
            "broker": "exchange",
            "starting_cash": 1000,
            "currency": "USD",
            "credentials": {"api_key": "k-123", "api_secret": "s3cr3t-value"},
        },
        format="json",
    )
    # Then the response names the connection but never the secret
    assert response.status_code == 201
    body = response.json()
    assert set(body["connection"]) == {
        "id",
        "name",
        "broker",
        "status",
        "has_credentials",
        "last_checked_at",
        "settings",
    }
    assert body["connection"]["has_credentials"] is True
    assert "s3cr3t-value" not in response.content.decode()
    assert "credentials" not in body
    # And neither the detail view nor the audit trail carries it
    detail = make_key_client(trader).get(f"/api/v1/accounts/{body['id']}")
    assert "s3cr3t-value" not in detail.content.decode()
    audit_text = str(list(AuditLogEntry.objects.values_list("data", flat=True)))
    assert "s3cr3t-value" not in audit_text


def test_admin_may_open_accounts(make_key_client, admin_user):
    response = make_key_client(admin_user).post(
        "/api/v1/accounts",
        {"name": "House", "broker": "exchange", "starting_cash": "0"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["cash"] == "0"


@pytest.mark.parametrize("role", ["dealer", "viewer"])
def test_dealers_and_viewers_may_not_open_accounts(make_key_client, role):
    from tests.factories import UserFactory

    # Given a dealer or viewer
    user = UserFactory(role=role)
    # When they try to open an account
    response = make_key_client(user).post(
        "/api/v1/accounts", {"name": "X", "broker": "paper", "starting_cash": "1"}, format="json"
    )
    # Then 403 in the error shape and nothing is stored
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not TradingAccount.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"broker": "paper", "starting_cash": "1"}, "name"),
        ({"name": "  ", "broker": "paper", "starting_cash": "1"}, "name"),
        ({"name": "X", "broker": "nasdaq-direct", "starting_cash": "1"}, "broker"),
        ({"name": "X", "broker": "paper", "starting_cash": "-5"}, "starting_cash"),
        ({"name": "X", "broker": "paper", "starting_cash": "ten"}, "starting_cash"),
        ({"name": "X", "broker": "paper", "starting_cash": "1.123456789"}, "starting_cash"),
        ({"name": "X", "broker": "paper"}, "starting_cash"),
        ({"name": "X", "broker": "paper", "starting_cash": "1", "currency": "rupee"}, "currency"),
        (
            {"name": "X", "broker": "paper", "starting_cash": "1", "credentials": "pw"},
            "credentials",
        ),
        ({"name": "X", "broker": "paper", "starting_cash": "1", "cash": "9"}, "cash"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_stores_nothing(
    make_key_client, trader, payload, field
):
    # When a trader posts an invalid account
    response = make_key_client(trader).post("/api/v1/accounts", payload, format="json")
    # Then 400 validation_error names the field, and nothing was written
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]
    assert not TradingAccount.objects.exists()
    assert not AuditLogEntry.objects.filter(action__startswith="account.").exists()


def test_detail_of_someone_elses_account_is_404(make_key_client, trader, other_trader):
    # Given another trader's account
    theirs = account_with_member(user=other_trader)
    client = make_key_client(trader)
    # When the first trader asks for it (or for a malformed / unknown id)
    for account_id in (theirs.pk, uuid.uuid4(), "not-a-uuid"):
        response = client.get(f"/api/v1/accounts/{account_id}")
        # Then it is 404, never revealing that it exists
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("role", ["owner", "trade", "view"])
def test_every_member_may_read_an_account(make_key_client, trader, role):
    account = account_with_member(user=trader, role=role)
    body = make_key_client(trader).get(f"/api/v1/accounts/{account.pk}/").json()
    assert body["id"] == str(account.pk)
    assert body["my_role"] == role


def test_owner_renames_and_suspends(make_key_client, trader):
    # Given an owner
    account = account_with_member(user=trader, name="Old")
    # When they patch name and status
    response = make_key_client(trader).patch(
        f"/api/v1/accounts/{account.pk}", {"name": "New", "status": "suspended"}, format="json"
    )
    # Then both change and each change is audited
    assert response.status_code == 200
    assert response.json()["name"] == "New" and response.json()["status"] == "suspended"
    actions = set(AuditLogEntry.objects.values_list("action", flat=True))
    assert {"account.rename", "account.status"} <= actions


@pytest.mark.parametrize("role", ["trade", "view"])
def test_trade_and_view_members_may_not_patch(make_key_client, dealer, role):
    account = account_with_member(user=dealer, role=role, name="Client")
    response = make_key_client(dealer).patch(
        f"/api/v1/accounts/{account.pk}", {"name": "Mine now"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    account.refresh_from_db()
    assert account.name == "Client"


def test_non_member_patch_is_404(make_key_client, trader, other_trader):
    theirs = account_with_member(user=other_trader)
    response = make_key_client(trader).patch(
        f"/api/v1/accounts/{theirs.pk}", {"status": "closed"}, format="json"
    )
    assert response.status_code == 404


def test_only_admins_reactivate(make_key_client, trader, admin_user):
    # Given a suspended account of a trader
    account = account_with_member(user=trader, status="suspended")
    url = f"/api/v1/accounts/{account.pk}"
    # When the owner tries to reactivate it, then 403
    response = make_key_client(trader).patch(url, {"status": "active"}, format="json")
    assert response.status_code == 403
    # When an admin does, then it is active again
    response = make_key_client(admin_user).patch(url, {"status": "active"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "active"


def test_closed_is_final(make_key_client, admin_user):
    account = TradingAccountFactory(status="closed")
    response = make_key_client(admin_user).patch(
        f"/api/v1/accounts/{account.pk}", {"status": "active"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_state"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"status": "frozen"}, "status"),
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"cash": "1000000000"}, "cash"),
    ],
)
def test_bad_patch_is_400_and_changes_nothing(make_key_client, trader, payload, field):
    account = account_with_member(user=trader, name="Keep", cash=Decimal("10"))
    response = make_key_client(trader).patch(
        f"/api/v1/accounts/{account.pk}", payload, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    account.refresh_from_db()
    assert (account.name, account.status, account.cash) == ("Keep", "active", Decimal("10"))
