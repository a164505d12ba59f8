"""API.md § Management commands: `seed_demo` and `issue_api_key`, seen from the outside."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from tests.api.helpers import paginated

pytestmark = pytest.mark.django_db

KEY_LINE = re.compile(r"^\S+$")


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _last_line(output: str) -> str:
    lines = output.rstrip("\n").split("\n")
    return lines[-1]


def _counts(admin: APIClient) -> dict[str, object]:
    instruments = paginated(admin.get("/api/v1/instruments?limit=1000"))
    accounts = paginated(admin.get("/api/v1/accounts?limit=1000"))
    return {
        "instruments": sorted(
            (i["symbol"], i["exchange"], i["tick_size"]) for i in instruments["results"]
        ),
        "accounts": sorted((a["id"], a["name"], a["broker"]) for a in accounts["results"]),
    }


# --- issue_api_key ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "dealer", "trader", "viewer"])
def test_issue_api_key_creates_the_user_with_the_role_and_prints_a_working_key(role):
    # given no user "u_<role>"
    # when a key is issued with --create --role
    output = _run("issue_api_key", f"u_{role}", "--create", "--role", role)
    key = _last_line(output)
    # then the last line is the key alone, and it works as a Token for that user and role
    assert KEY_LINE.match(key), output
    me = _client(key).get("/api/v1/me")
    assert me.status_code == 200, me.content
    assert (me.json()["username"], me.json()["role"]) == (f"u_{role}", role)
    assert _client(key).get("/api/v1/accounts").status_code == 200


def test_issue_api_key_role_defaults_to_trader():
    # given no user "plain"
    # when a key is issued with --create and no --role
    key = _last_line(_run("issue_api_key", "plain", "--create"))
    # then the user is a trader
    assert _client(key).get("/api/v1/me").json()["role"] == "trader"


def test_only_an_admin_key_may_create_instruments():
    # given keys of an admin and a trader
    admin = _client(_last_line(_run("issue_api_key", "boss", "--create", "--role", "admin")))
    trader = _client(_last_line(_run("issue_api_key", "tina", "--create", "--role", "trader")))
    body = {"symbol": "ROLE", "exchange": "SIM", "tick_size": "0.05", "lot_size": 1}
    # when each posts an instrument
    # then the admin creates it and the trader is refused
    assert trader.post("/api/v1/instruments", body, format="json").status_code == 403
    assert admin.post("/api/v1/instruments", body, format="json").status_code == 201


def test_issue_api_key_for_an_existing_user_adds_a_second_working_key():
    # given a user with a key
    first = _last_line(_run("issue_api_key", "dave", "--create"))
    # when another key is issued without --create
    second = _last_line(_run("issue_api_key", "dave"))
    # then both keys are different and both work
    assert first != second
    for key in (first, second):
        assert _client(key).get("/api/v1/me").json()["username"] == "dave"


def test_issue_api_key_without_create_for_an_unknown_user_fails():
    # given no user "ghost"
    # when a key is asked for without --create
    # then the command fails and nobody is created
    with pytest.raises(CommandError):
        _run("issue_api_key", "ghost")
    with pytest.raises(CommandError):
        _run("issue_api_key", "ghost", "--role", "admin")


def test_issue_api_key_refuses_an_unknown_role():
    # given no user
    # when the role is not one of admin/dealer/trader/viewer
    # then the command fails
    with pytest.raises(CommandError):
        _run("issue_api_key", "eve", "--create", "--role", "superuser")


# --- seed_demo ----------------------------------------------------------------------------------


def test_seed_demo_is_idempotent_and_gives_a_usable_world():
    # given a fresh system
    # when seed_demo runs twice
    _run("seed_demo")
    admin = _client(_last_line(_run("issue_api_key", "admin")))
    first = _counts(admin)
    _run("seed_demo")
    second = _counts(admin)
    # then the second run changed nothing
    assert first == second
    # and the demo has instruments (some on the always-open SIM exchange) and accounts
    assert first["instruments"] and first["accounts"]
    assert any(exchange == "SIM" for _, exchange, _ in first["instruments"])


def test_seed_demo_users_get_keys_without_create():
    # given the demo data
    _run("seed_demo")
    # when keys are issued for the demo users without --create
    for username in ("admin", "trader", "viewer"):
        key = _last_line(_run("issue_api_key", username))
        # then each works, and each sees at least one account
        accounts = paginated(_client(key).get("/api/v1/accounts"))
        assert accounts["count"] >= 1, username


def test_issue_api_key_scope_makes_a_feed_key_and_refuses_a_malformed_scope(db, admin):
    # given an instrument on SIM
    admin.post("/instruments", {"symbol": "FEED", "exchange": "SIM"})
    # when a viewer gets a key with --scope marketdata:push
    key = _last_line(
        _run("issue_api_key", "feed", "--create", "--role", "viewer", "--scope", "marketdata:push")
    )
    # then that key may push ticks (a feed key, API.md)
    response = _client(key).post(
        "/api/v1/market-data/ticks", {"symbol": "FEED", "last": "1"}, format="json"
    )
    assert response.status_code == 202, response.content
    # and a malformed scope is refused
    with pytest.raises(CommandError):
        _run("issue_api_key", "feed", "--scope", "push everything")
