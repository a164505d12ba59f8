"""API.md § Conventions: base path, slashes, JSON, auth, error shape, pagination, formats."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.api.helpers import assert_error, grant, order_body
from tests.factories import DEFAULT_PASSWORD, UserFactory

SNAKE = re.compile(r"^[a-z]+(_[a-z]+)*$")


# A GET of every area, with and without a trailing slash.
GET_ENDPOINTS = [
    "/accounts",
    "/instruments",
    "/instruments/ACME",
    "/market-data?symbols=ACME",
    "/market-data/ACME/bars?interval=1m",
    "/orderbook/ACME?depth=10",
    "/orders",
    "/fills",
    "/positions",
    "/pnl",
    "/gtt",
    "/notifications",
    "/me",
    "/api-keys",
]


def _with_slash(path: str) -> str:
    base, _, query = path.partition("?")
    return f"{base}/" + (f"?{query}" if query else "")


# --- base path, JSON, trailing slashes ----------------------------------------------------------


@pytest.mark.parametrize("path", GET_ENDPOINTS)
def test_every_get_answers_json_with_and_without_a_trailing_slash(path, alice, alice_account, acme):
    # given a trader with an account and a quoted instrument
    # when the same resource is read with and without the trailing slash
    without = alice.get(path)
    with_slash = alice.get(_with_slash(path))
    # then both answer 200 with the same JSON (never a redirect)
    assert without.status_code == 200, (path, without.status_code, without.content[:300])
    assert with_slash.status_code == 200, (path, with_slash.status_code)
    assert without["Content-Type"].startswith("application/json")
    first, second = without.json(), with_slash.json()
    if path.startswith("/orderbook"):  # a depth snapshot is stamped when it is read
        first.pop("ts"), second.pop("ts")
    assert first == second


def _post_bodies(account: dict, n: int) -> dict[str, dict]:
    """A valid body for every POST of the contract (symbols made unique per call)."""
    return {
        "/accounts": {"name": f"A{n}", "broker": "paper", "starting_cash": 1},
        "/instruments": {
            "symbol": f"FOO{n}",
            "exchange": "SIM",
            "tick_size": "0.05",
            "lot_size": 1,
        },
        "/market-data/ticks": {"symbol": "ACME", "last": f"{100 + n}"},
        "/orders": order_body(account, qty="1", limit_price="90"),
        "/orders/batch": {"orders": [order_body(account, qty="1", limit_price="90")]},
        "/gtt": {
            "account": account["id"],
            "symbol": "ACME",
            "trigger_type": "single",
            "trigger_values": ["95"],
            "orders": [{"side": "buy", "qty": "1", "type": "limit", "limit_price": "95"}],
        },
        "/api-keys": {"name": f"k{n}"},
        "/notifications/read-all": {},
        "/positions/close": {"account": account["id"]},
    }


@pytest.mark.parametrize(
    "path",
    [
        "/accounts",
        "/instruments",
        "/market-data/ticks",
        "/orders",
        "/orders/batch",
        "/gtt",
        "/api-keys",
        "/notifications/read-all",
        "/positions/close",
    ],
)
def test_every_post_works_with_and_without_a_trailing_slash(path, admin, alice_account, acme):
    # given an admin (who may post anything) and an account
    # when the same kind of request is posted without and with the trailing slash
    without = admin.post(path, _post_bodies(alice_account, 1)[path])
    with_slash = admin.post(f"{path}/", _post_bodies(alice_account, 2)[path])
    # then both reach the endpoint (no redirect, no 404/405) and get the same answer status
    assert without.status_code not in (301, 302, 404, 405), (path, without.content[:300])
    assert with_slash.status_code == without.status_code, (path, with_slash.content[:300])
    assert without["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("slash", ["", "/"])
def test_order_post_patch_delete_work_with_and_without_a_trailing_slash(
    slash, alice, alice_account, acme
):
    # given a trader with an account
    # when she places, modifies and cancels with or without the trailing slash
    placed = alice.post(f"/orders{slash}", order_body(alice_account, qty="1", limit_price="90"))
    assert placed.status_code == 201, placed.content
    order_id = placed.json()["id"]
    modified = alice.patch(f"/orders/{order_id}{slash}", {"limit_price": "91"})
    canceled = alice.delete(f"/orders/{order_id}{slash}")
    # then every form works
    assert modified.status_code == 200, modified.content
    assert canceled.status_code == 200, canceled.content


@pytest.mark.parametrize("path", ["/market-data", "/orders", "/accounts"])
def test_a_format_query_parameter_is_ignored_like_any_unknown_one(path, alice, alice_account):
    # given a trader, and what a read answers without a `format` parameter
    plain = alice.get(path)
    # when the same read carries `format` with a value no renderer has (or "csv")
    for value in ("xyz", "csv"):
        response = alice.get(f"{path}?format={value}")
        # then it answers the same JSON (it was DRF's renderer override: a 404 "Not found.")
        assert response.status_code == 200, (path, value, response.content[:200])
        assert response.json() == plain.json()


def test_the_schema_still_comes_as_json_or_yaml_by_its_format_parameter(alice):
    # given a caller of the published schema
    # when it asks for each format the schema view renders
    as_json = alice.get("/schema?format=json")
    as_yaml = alice.get("/schema?format=yaml")
    # then each comes in its own type
    assert as_json.status_code == as_yaml.status_code == 200
    assert as_json.json()["openapi"].startswith("3.")
    assert b"openapi:" in as_yaml.content


def test_the_api_lives_under_api_v1_only(alice):
    # given a trader
    # when the accounts list is asked for outside the base path
    response = alice.get("/api/accounts")
    # then it is not there
    assert response.status_code == 404


def test_an_unknown_path_under_the_base_path_is_a_json_404(alice):
    # given a trader
    # when an endpoint that does not exist is requested
    response = alice.get("/no-such-endpoint")
    # then the answer is the contract's error shape, not an HTML page
    assert_error(response, 404, "not_found")


def test_form_encoded_input_is_refused_in_the_error_shape(alice):
    # given a trader
    # when she posts a form instead of JSON
    response = alice.client.post("/api/v1/accounts", {"name": "A", "broker": "paper"})
    # then 415 in the one error shape
    assert response.status_code == 415
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) <= {"code", "message", "fields"}
    assert SNAKE.match(body["error"]["code"]) and body["error"]["message"]


def test_malformed_json_is_a_validation_error(alice):
    # given a trader
    # when the JSON body cannot be parsed
    response = alice.client.post(
        "/api/v1/accounts", data="{not json", content_type="application/json"
    )
    # then 400 validation_error
    assert_error(response, 400, "validation_error")


# --- authentication -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/accounts"),
        ("post", "/accounts"),
        ("get", "/instruments"),
        ("get", "/market-data?symbols=ACME"),
        ("post", "/market-data/ticks"),
        ("get", "/orderbook/ACME"),
        ("get", "/orders"),
        ("post", "/orders"),
        ("post", "/orders/batch"),
        ("delete", "/orders?account=x"),
        ("get", "/fills"),
        ("get", "/positions"),
        ("post", "/positions/close"),
        ("get", "/pnl"),
        ("get", "/gtt"),
        ("post", "/gtt"),
        ("get", "/notifications"),
    ],
)
def test_no_credentials_is_401_not_authenticated(method, path, anon):
    # given no credentials
    # when any endpoint is called
    response = getattr(anon.client, method)(anon.url(path), {}, format="json")
    # then 401 not_authenticated in the error shape
    assert_error(response, 401, "not_authenticated")


def test_a_wrong_or_revoked_key_is_401(alice):
    # given a bad key, and a key that has been revoked over the API
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    issued = alice.post("/api-keys", {"name": "temp"})
    assert issued.status_code == 201, issued.content
    revoked = APIClient()
    revoked.credentials(HTTP_AUTHORIZATION=f"Token {issued.json()['key']}")
    assert revoked.get("/api/v1/accounts").status_code == 200
    assert alice.delete(f"/api-keys/{issued.json()['id']}").status_code == 200
    # when either is used
    # then 401 not_authenticated
    assert_error(bad.get("/api/v1/accounts"), 401, "not_authenticated")
    assert_error(revoked.get("/api/v1/accounts"), 401, "not_authenticated")


def test_a_logged_in_session_works_and_writes_need_csrf(db):
    # given a browser session of a trader (CSRF enforced, as in a real browser)
    UserFactory(username="carol", role="trader")
    browser = Client(enforce_csrf_checks=True)
    assert browser.login(username="carol", password=DEFAULT_PASSWORD)
    body = {"name": "S", "broker": "paper", "starting_cash": "1"}
    # when she reads, then writes without and with the CSRF token a page gave her
    read = browser.get("/api/v1/accounts")
    no_csrf = browser.post("/api/v1/accounts", body, content_type="application/json")
    assert browser.get("/").status_code == 200
    token = browser.cookies["csrftoken"].value
    with_csrf = browser.post(
        "/api/v1/accounts", body, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    # then reading works, a write without CSRF is 403 permission_denied, with it 201
    assert read.status_code == 200
    assert_error(no_csrf, 403, "permission_denied")
    assert with_csrf.status_code == 201, with_csrf.content


# --- 403 / 404 ----------------------------------------------------------------------------------


def test_someone_elses_objects_are_404_never_403(alice, bob, bob_account, acme):
    # given Bob's account and an order on it
    placed = bob.post("/orders", order_body(bob_account, qty="1", limit_price="90"))
    assert placed.status_code == 201, placed.content
    order_id = placed.json()["id"]
    # when Alice reaches for them
    # then every answer is 404 not_found: their existence does not leak
    for response in (
        alice.get(f"/accounts/{bob_account['id']}"),
        alice.patch(f"/accounts/{bob_account['id']}", {"name": "mine"}),
        alice.get(f"/accounts/{bob_account['id']}/risk-limits"),
        alice.get(f"/orders/{order_id}"),
        alice.get(f"/orders/{order_id}/events"),
        alice.patch(f"/orders/{order_id}", {"limit_price": "91"}),
        alice.delete(f"/orders/{order_id}"),
    ):
        assert_error(response, 404, "not_found")
    # and someone else's notification is 404 too
    from accounts.models import User
    from notifications.services import notify

    [note] = notify(user=User.objects.get(username="bob"), kind="info", title="Bob's")
    assert_error(alice.get(f"/notifications/{note.pk}"), 404, "not_found")
    assert_error(alice.post(f"/notifications/{note.pk}/read"), 404, "not_found")
    # and the answer is the same as for an id that does not exist at all
    missing = "00000000-0000-0000-0000-000000000000"
    assert_error(alice.get(f"/accounts/{missing}"), 404, "not_found")
    assert_error(alice.get(f"/orders/{missing}"), 404, "not_found")


@pytest.mark.parametrize(
    "path", ["/accounts/not-a-uuid", "/orders/not-a-uuid", "/instruments/NOPE"]
)
def test_malformed_or_unknown_ids_are_404(path, alice):
    # given a trader
    # when an id that cannot exist is asked for
    # then 404 not_found (never a 500)
    assert_error(alice.get(path), 404, "not_found")


def test_forbidden_is_403_permission_denied(alice, api_as, alice_account):
    # given a viewer with view access to Alice's account, and a trader
    viewer = api_as("vic", "viewer")
    grant(viewer, alice_account, "view")
    # when the viewer tries to change the account, and the trader tries admin-only writes
    responses = [
        viewer.patch(f"/accounts/{alice_account['id']}", {"name": "renamed"}),
        alice.post("/instruments", {"symbol": "X", "exchange": "SIM"}),
        alice.patch(f"/accounts/{alice_account['id']}/risk-limits", {"max_open_orders": 1}),
        alice.post("/market-data/ticks", {"symbol": "ACME", "last": "1"}),
    ]
    # then each is 403 permission_denied
    for response in responses:
        assert_error(response, 403, "permission_denied")


def test_method_not_allowed_is_405_in_the_error_shape(alice, alice_account):
    # given a trader
    # when a verb the endpoint does not have is used
    response = alice.put(f"/accounts/{alice_account['id']}", {"name": "x"})
    # then 405 in the one error shape
    assert response.status_code == 405
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) <= {"code", "message", "fields"}
    assert SNAKE.match(body["error"]["code"]) and body["error"]["message"]


def test_throttling_is_429_rate_limited(alice, monkeypatch):
    from rest_framework.throttling import UserRateThrottle

    # given a user rate of 2 requests a minute
    monkeypatch.setattr(UserRateThrottle, "rate", "2/min", raising=False)
    # when a third request comes within the minute
    alice.get("/accounts")
    alice.get("/accounts")
    response = alice.get("/accounts")
    # then 429 rate_limited
    assert_error(response, 429, "rate_limited")
