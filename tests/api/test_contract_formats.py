"""API.md § Conventions: formats (decimals, times, ids), pagination, schema and docs."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests.api.helpers import order_body, paginated

# Every list endpoint of the contract that needs no path parameter.
LIST_ENDPOINTS = ["/accounts", "/instruments", "/orders", "/fills", "/positions", "/gtt"]

# --- formats ------------------------------------------------------------------------------------


def _assert_utc_iso(value: str) -> None:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0, value


def test_times_are_iso_8601_utc_even_with_a_local_time_zone(settings, alice, acme, alice_account):

    # given a server configured for India's time zone, a resting order, a fill, a GTT, a key
    settings.TIME_ZONE = "Asia/Kolkata"
    placed = alice.post("/orders", order_body(alice_account, qty="1", limit_price="90"))
    assert placed.status_code == 201, placed.content
    market = order_body(alice_account, type="market", qty="1", limit_price=None)
    assert alice.post("/orders", market).status_code == 201
    gtt = alice.post(
        "/gtt",
        {
            "account": alice_account["id"],
            "symbol": "ACME",
            "trigger_type": "single",
            "trigger_values": ["95"],
            "orders": [{"side": "buy", "qty": "1", "type": "limit", "limit_price": "95"}],
        },
    )
    assert gtt.status_code == 201, gtt.content
    assert alice.post("/api-keys", {"name": "tz"}).status_code == 201
    # when times are read from every area
    order = alice.get(f"/orders/{placed.json()['id']}").json()
    account = alice.get(f"/accounts/{alice_account['id']}").json()
    quote = alice.get("/market-data?symbols=ACME").json()["results"][0]
    bars = alice.get("/market-data/ACME/bars?interval=1m").json()
    events = alice.get(f"/orders/{order['id']}/events").json()["results"]
    book = alice.get("/orderbook/ACME").json()
    fill = paginated(alice.get("/fills"))["results"][0]
    gtt_detail = alice.get(f"/gtt/{gtt.json()['id']}").json()
    key = paginated(alice.get("/api-keys"))["results"][0]
    # then each is ISO 8601 with a zero UTC offset
    for value in (
        order["created_at"],
        order["updated_at"],
        account["created_at"],
        quote["ts"],
        bars["results"][0]["ts"],
        events[0]["at"],
        book["ts"],
        fill["ts"],
        gtt_detail["expires_at"],
        key["created_at"],
    ):
        _assert_utc_iso(value)


def test_notification_times_are_utc(settings, api_as, alice_account):
    from notifications.services import notify

    # given a notification for a user, on a server in India's time zone
    settings.TIME_ZONE = "Asia/Kolkata"
    from accounts.models import User

    carol = api_as("carol")
    notify(user=User.objects.get(username="carol"), kind="info", title="Hello", body="x")
    # when it is read
    results = paginated(carol.get("/notifications"))["results"]
    # then its time is UTC
    assert results, results
    _assert_utc_iso(results[0]["created_at"])


def test_decimals_go_out_as_strings_and_come_in_as_strings_or_numbers(alice, admin, acme):
    # given a trader
    # when she opens accounts with starting cash as a JSON number and as a string
    as_number = alice.post("/accounts", {"name": "N", "broker": "paper", "starting_cash": 1000.5})
    as_string = alice.post(
        "/accounts", {"name": "S", "broker": "paper", "starting_cash": "1000.50"}
    )
    # then both are accepted and every amount comes back as a decimal string
    assert as_number.status_code == 201 and as_string.status_code == 201
    for body in (as_number.json(), as_string.json()):
        assert body["cash"] == "1000.5", body
        assert isinstance(body["buying_power"], str)
    # and instrument sizes, quotes are strings too
    instrument = alice.get("/instruments/ACME").json()
    assert instrument["tick_size"] == "0.05" and instrument["lot_size"] == "1"
    quote = alice.get("/market-data?symbols=ACME").json()["results"][0]
    assert (quote["last"], quote["bid"], quote["ask"]) == ("100", "99.95", "100.05")
    assert isinstance(quote["volume"], str)


def test_a_float_looking_number_is_never_a_float(alice):
    # given a trader
    # when 0.1 + 0.2-style numbers come in as JSON numbers
    response = alice.post("/accounts", {"name": "F", "broker": "paper", "starting_cash": 0.3})
    # then the amount is exactly 0.3
    assert response.json()["cash"] == "0.3"


def test_ids_are_opaque_strings(alice, alice_account, acme):

    # given objects of several kinds
    order = alice.post("/orders", order_body(alice_account, qty="1", limit_price="90")).json()
    instrument = alice.get("/instruments/ACME").json()
    # when their ids are read
    # then they are non-empty strings
    for value in (alice_account["id"], order["id"], order["account"], instrument["id"]):
        assert isinstance(value, str) and value


# --- pagination ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", LIST_ENDPOINTS)
def test_lists_are_paginated(path, alice, alice_account, acme):
    # given a trader
    # when a list is read
    body = paginated(alice.get(path))
    # then it has count/next/previous/results
    assert body["previous"] is None


def test_limit_offset_and_next_previous_links(alice):
    # given a trader with 7 accounts
    for n in range(7):
        assert (
            alice.post(
                "/accounts", {"name": f"A{n}", "broker": "paper", "starting_cash": "1"}
            ).status_code
            == 201
        )
    # when pages of 3 are read
    first = paginated(alice.get("/accounts?limit=3"))
    second = paginated(alice.get("/accounts?limit=3&offset=3"))
    last = paginated(alice.get("/accounts?limit=3&offset=6"))
    # then counts, links and contents line up
    assert first["count"] == 7 and len(first["results"]) == 3
    assert first["previous"] is None and "offset=3" in first["next"]
    assert second["previous"] is not None and second["next"] is not None
    assert last["next"] is None and len(last["results"]) == 1
    ids = [a["id"] for page in (first, second, last) for a in page["results"]]
    assert len(set(ids)) == 7


def test_default_page_is_100_and_max_is_1000(alice):
    from accounts.models import AccountMembership, TradingAccount, User

    # given a trader who is a member of 1005 accounts (bulk: back office)
    user = User.objects.get(username="alice")
    accounts = TradingAccount.objects.bulk_create(
        [TradingAccount(name=f"B{n:04}", broker="paper") for n in range(1005)]
    )
    AccountMembership.objects.bulk_create(
        [AccountMembership(user=user, account=account, role="owner") for account in accounts]
    )
    # when the list is read without a limit, and with limit=5000
    default = paginated(alice.get("/accounts"))
    capped = paginated(alice.get("/accounts?limit=5000"))
    # then 100 by default, at most 1000
    assert default["count"] == 1005 and len(default["results"]) == 100
    assert len(capped["results"]) == 1000


# --- schema and docs ----------------------------------------------------------------------------


def test_schema_is_openapi_3_and_names_the_contract_paths(anon):
    # given anyone
    # when the schema is fetched as JSON
    response = anon.client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    # then it is an OpenAPI 3 document listing the contract's endpoints
    assert response.status_code == 200
    import json

    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] and "paths" in schema
    paths = set(schema["paths"])
    for expected in (
        "/api/v1/accounts",
        "/api/v1/accounts/{account_id}",
        "/api/v1/accounts/{account_id}/risk-limits",
        "/api/v1/instruments",
        "/api/v1/market-data",
        "/api/v1/market-data/ticks",
        "/api/v1/orders",
        "/api/v1/orders/batch",
        "/api/v1/orders/{order_id}",
        "/api/v1/orders/{order_id}/events",
        "/api/v1/fills",
    ):
        assert any(p.rstrip("/") == expected for p in paths), (expected, sorted(paths))


def test_schema_validates_as_openapi_3(anon):
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    # given the generated schema
    schema = SchemaGenerator().get_schema(request=None, public=True)
    # when it is validated against the OpenAPI 3 JSON schema
    # then it is valid (raises otherwise)
    validate_schema(schema)


@pytest.mark.parametrize("path", ["/api/v1/schema", "/api/v1/schema/", "/api/v1/docs"])
def test_schema_and_docs_work_without_a_trailing_slash_too(path, anon):
    # given anyone
    # when the schema or docs are fetched with or without the slash
    # then they answer 200 (no redirect)
    assert anon.client.get(path).status_code == 200


def test_docs_are_html_and_use_no_cdn(anon):
    # given anyone
    # when the docs page is opened
    response = anon.client.get("/api/v1/docs/")
    # then it is HTML that loads nothing from a CDN
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    for needle in ("cdn.", "unpkg", "jsdelivr"):
        assert needle not in html, needle
    # and what it does load is served by the app itself
    for src in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not src.startswith(("http://", "https://", "//")), src
        if src.startswith("/static/"):
            assert anon.client.get(src).status_code == 200, src
