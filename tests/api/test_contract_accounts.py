"""API.md § Accounts: visibility, creation shape, write-only credentials, risk limits."""

from __future__ import annotations

import json

import pytest

from tests.api.helpers import assert_error, grant, open_account, paginated

ACCOUNT_KEYS = {"id", "name", "broker", "cash", "buying_power", "status"}
RISK_KEYS = {
    "max_order_value",
    "max_order_qty",
    "max_open_orders",
    "max_orders_per_day",
    "max_daily_loss",
    "price_band_pct",
    "allowed_symbols",
    "allow_short",
    "kill_switch",
}
SECRET = "s3cr3t-broker-password"


def test_a_user_lists_only_the_accounts_they_may_see(alice, bob, api_as, admin):
    # given accounts of Alice and Bob, and a viewer who may view one of Alice's
    mine = open_account(alice, name="Alice 1")
    open_account(bob, name="Bob 1")
    viewer = api_as("vic", "viewer")
    grant(viewer, mine, "view")
    # when each lists accounts
    names = {
        who: sorted(a["name"] for a in paginated(caller.get("/accounts"))["results"])
        for who, caller in (("alice", alice), ("bob", bob), ("vic", viewer), ("admin", admin))
    }
    # then each sees their own (admins see all)
    assert names == {
        "alice": ["Alice 1"],
        "bob": ["Bob 1"],
        "vic": ["Alice 1"],
        "admin": ["Alice 1", "Bob 1"],
    }


@pytest.mark.parametrize("broker", ["paper", "exchange"])
def test_post_account_returns_the_documented_shape(broker, alice):
    # given a trader
    # when she opens an account with the documented body
    response = alice.post(
        "/accounts",
        {"name": "Main", "broker": broker, "starting_cash": "100000", "credentials": {}},
    )
    # then 201 with id, name, broker, cash, buying_power, status
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= ACCOUNT_KEYS, body
    assert (body["name"], body["broker"], body["cash"], body["status"]) == (
        "Main",
        broker,
        "100000",
        "active",
    )
    assert body["buying_power"] == "100000"
    assert isinstance(body["id"], str)
    # and the same object is readable
    assert alice.get(f"/accounts/{body['id']}").json()["id"] == body["id"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("broker", "nosuchbroker"),
        ("starting_cash", "-1"),
        ("starting_cash", "lots"),
        ("name", ""),
        ("credentials", "not-an-object"),
    ],
)
def test_bad_account_fields_are_400_naming_the_field(field, value, alice):
    # given a trader
    body = {"name": "Main", "broker": "paper", "starting_cash": "100000", field: value}
    # when she posts a bad field
    response = alice.post("/accounts", body)
    # then 400 naming it, and nothing is created
    assert_error(response, 400, "validation_error", field=field)
    assert paginated(alice.get("/accounts"))["count"] == 0


def test_credentials_are_write_only_everywhere(alice, admin):
    # given an account opened with broker credentials
    response = alice.post(
        "/accounts",
        {
            "name": "With creds",
            "broker": "paper",
            "starting_cash": "1000",
            "credentials": {"api_key": "k-123", "password": SECRET},
        },
    )
    assert response.status_code == 201, response.content
    account_id = response.json()["id"]
    # when the account is read in every way, by the owner and by an admin
    bodies = [
        response.content,
        alice.get(f"/accounts/{account_id}").content,
        alice.get("/accounts").content,
        admin.get("/accounts").content,
        admin.get(f"/accounts/{account_id}").content,
        alice.patch(f"/accounts/{account_id}", {"name": "Renamed"}).content,
        alice.get("/me").content,
    ]
    # then the secrets never come back
    for raw in bodies:
        text = raw.decode()
        assert SECRET not in text and "k-123" not in text, text
        assert '"credentials"' not in text, text


def test_get_and_patch_name_and_status(alice):
    # given Alice's account
    account = open_account(alice)
    # when she renames it and suspends it
    renamed = alice.patch(f"/accounts/{account['id']}", {"name": "Renamed"})
    suspended = alice.patch(f"/accounts/{account['id']}", {"status": "suspended"})
    # then the changes are visible
    assert renamed.status_code == 200 and renamed.json()["name"] == "Renamed"
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    assert alice.get(f"/accounts/{account['id']}").json()["status"] == "suspended"


def test_patch_rejects_bad_values_and_read_only_fields(alice):
    # given Alice's account
    account = open_account(alice)
    # when she sends an unknown status, or tries to set her own cash
    bad_status = alice.patch(f"/accounts/{account['id']}", {"status": "rich"})
    cash = alice.patch(f"/accounts/{account['id']}", {"cash": "99999999"})
    # then 400 naming the field, and the cash is unchanged
    assert_error(bad_status, 400, "validation_error", field="status")
    assert cash.status_code == 400
    assert alice.get(f"/accounts/{account['id']}").json()["cash"] == "1000000"


def test_a_viewer_may_read_but_not_patch(alice, api_as):
    # given Alice's account that Vic may view
    account = open_account(alice)
    viewer = api_as("vic", "viewer")
    grant(viewer, account, "view")
    # when Vic reads and then renames it
    read = viewer.get(f"/accounts/{account['id']}")
    patch = viewer.patch(f"/accounts/{account['id']}", {"name": "Vic's now"})
    # then reading works and renaming is 403
    assert read.status_code == 200
    assert_error(patch, 403, "permission_denied")
    assert alice.get(f"/accounts/{account['id']}").json()["name"] == "Main"


# --- risk limits --------------------------------------------------------------------------------


def test_risk_limits_have_the_documented_fields_and_defaults(alice):
    # given a new account
    account = open_account(alice)
    # when its risk limits are read
    response = alice.get(f"/accounts/{account['id']}/risk-limits")
    # then the exact field names are there, limits null (= none), allow_short false
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= RISK_KEYS, body
    for name in RISK_KEYS - {"allow_short", "kill_switch"}:
        assert body[name] is None, (name, body)
    assert body["allow_short"] is False
    assert body["kill_switch"] is False


def test_admins_patch_risk_limits_and_null_means_no_limit(admin, alice):
    # given an account
    account = open_account(alice)
    url = f"/accounts/{account['id']}/risk-limits"
    # when an admin sets limits (strings and numbers), then clears one with null
    changed = admin.patch(
        url,
        {
            "max_order_value": "50000",
            "max_order_qty": 100,
            "max_open_orders": 5,
            "max_orders_per_day": 50,
            "max_daily_loss": 2500.5,
            "price_band_pct": "5",
            "allowed_symbols": ["ACME"],
            "allow_short": True,
            "kill_switch": False,
        },
    )
    cleared = admin.patch(url, {"max_order_value": None, "allowed_symbols": None})
    # then the values come back as set, decimals as strings, and null clears
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert (body["max_order_value"], body["max_order_qty"], body["max_daily_loss"]) == (
        "50000",
        "100",
        "2500.5",
    )
    assert (body["max_open_orders"], body["max_orders_per_day"]) == (5, 50)
    assert body["price_band_pct"] == "5"
    assert body["allowed_symbols"] == ["ACME"] and body["allow_short"] is True
    assert cleared.status_code == 200
    assert cleared.json()["max_order_value"] is None
    assert cleared.json()["allowed_symbols"] is None
    assert alice.get(url).json()["max_open_orders"] == 5


@pytest.mark.parametrize("role", ["trader", "dealer", "viewer"])
def test_only_admins_patch_risk_limits(role, alice, api_as):
    # given an account its owner (a trader) or a trade member could see
    account = open_account(alice)
    caller = alice if role == "trader" else api_as(f"x_{role}", role)
    if caller is not alice:
        grant(caller, account, "trade" if role == "dealer" else "view")
    url = f"/accounts/{account['id']}/risk-limits"
    # when a non-admin patches its risk limits
    response = caller.patch(url, {"max_open_orders": 1, "kill_switch": True})
    # then 403 and nothing changed
    assert_error(response, 403, "permission_denied")
    assert alice.get(url).json()["max_open_orders"] is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_order_value", "-1"),
        ("max_open_orders", "many"),
        ("price_band_pct", "150"),
        ("allow_short", "perhaps"),
        ("allowed_symbols", "ACME"),
    ],
)
def test_bad_risk_limits_are_400_naming_the_field(field, value, admin, alice):
    # given an account
    account = open_account(alice)
    # when an admin patches a bad value
    response = admin.patch(f"/accounts/{account['id']}/risk-limits", {field: value})
    # then 400 naming the field
    assert_error(response, 400, "validation_error", field=field)


def test_risk_limits_of_an_invisible_account_are_404(alice, bob, admin):
    # given Bob's account
    account = open_account(bob)
    # when Alice reads its limits
    # then 404, as if it did not exist
    assert_error(alice.get(f"/accounts/{account['id']}/risk-limits"), 404, "not_found")
    assert_error(alice.patch(f"/accounts/{account['id']}/risk-limits", {}), 404, "not_found")


def test_account_bodies_are_plain_json(alice):
    # given an account
    account = open_account(alice)
    # when it is read
    raw = alice.get(f"/accounts/{account['id']}").content
    # then it parses as JSON with string decimals (no JSON numbers for money)
    body = json.loads(raw)
    assert isinstance(body["cash"], str) and isinstance(body["buying_power"], str)
