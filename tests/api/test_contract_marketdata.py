"""API.md § Instruments and market data, seen from the outside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.api.helpers import (
    SIM_INSTRUMENT,
    assert_error,
    issue_key,
    open_account,
    order_body,
    paginated,
)

# --- instruments --------------------------------------------------------------------------------


def test_admin_creates_an_instrument_with_the_documented_body(admin):
    # given an admin
    # when the body of API.md is posted
    response = admin.post("/instruments", SIM_INSTRUMENT)
    # then 201 with the instrument, decimals as strings
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["symbol"], body["exchange"], body["name"], body["currency"]) == (
        "ACME",
        "SIM",
        "Acme Corporation",
        "INR",
    )
    assert (body["tick_size"], body["lot_size"]) == ("0.05", "1")
    assert isinstance(body["id"], str)


def test_instrument_list_and_detail(alice, acme):
    # given ACME
    # when any user lists and reads instruments
    listing = paginated(alice.get("/instruments"))
    detail = alice.get("/instruments/ACME")
    # then ACME is there, and the detail is the same object
    assert [i["symbol"] for i in listing["results"]] == ["ACME"]
    assert detail.status_code == 200
    assert detail.json() == listing["results"][0]


def test_non_admins_may_not_create_instruments(api_as):
    # given a dealer, a trader and a viewer
    for username, role in (("d", "dealer"), ("t", "trader"), ("v", "viewer")):
        caller = api_as(username, role)
        # when they post an instrument
        response = caller.post("/instruments", {**SIM_INSTRUMENT, "symbol": f"X{username}"})
        # then 403 permission_denied and nothing is created
        assert_error(response, 403, "permission_denied")
        assert caller.get(f"/instruments/X{username}").status_code == 404


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tick_size", "0"),
        ("tick_size", "-0.05"),
        ("tick_size", "abc"),
        ("lot_size", 0),
        ("lot_size", -1),
        ("lot_size", "x"),
        ("exchange", "NOPE"),
        ("symbol", ""),
    ],
)
def test_bad_instrument_fields_are_400_naming_the_field(field, value, admin):
    # given an admin
    # when an instrument with a bad field is posted
    response = admin.post("/instruments", {**SIM_INSTRUMENT, field: value})
    # then 400 validation_error naming the field, and nothing is created
    assert_error(response, 400, "validation_error", field=field)
    assert paginated(admin.get("/instruments"))["count"] == 0


def test_tick_size_and_lot_size_as_json_numbers(admin):
    # given an admin
    # when sizes come as JSON numbers
    response = admin.post("/instruments", {**SIM_INSTRUMENT, "tick_size": 0.05, "lot_size": 50})
    # then they are exact
    assert response.status_code == 201, response.content
    assert (response.json()["tick_size"], response.json()["lot_size"]) == ("0.05", "50")


def test_sim_exists_on_a_fresh_install_and_is_always_open(admin, alice):
    # given a fresh system (no seed) and an instrument on SIM
    assert admin.post("/instruments", SIM_INSTRUMENT).status_code == 201
    account = open_account(alice)
    assert (
        admin.post(
            "/market-data/ticks", {"symbol": "ACME", "last": "10", "bid": "9.95", "ask": "10.05"}
        ).status_code
        == 202
    )
    # when a market order is placed at any time of any day
    response = alice.post("/orders", order_body(account, type="market", qty="1", limit_price=None))
    # then it is accepted (never rejected for trading hours)
    assert response.status_code == 201, response.content
    assert response.json()["status"] != "rejected"


def _at(minute: datetime, seconds: int) -> str:
    return (minute + timedelta(seconds=seconds)).isoformat()


# --- market data --------------------------------------------------------------------------------


def test_market_data_returns_the_latest_quote_of_each_symbol(admin, alice, acme):
    # given ACME and FOO, each ticked twice
    admin.post("/instruments", {**SIM_INSTRUMENT, "symbol": "FOO"})
    admin.post(
        "/market-data/ticks",
        [
            {"symbol": "FOO", "last": "20", "bid": "19.95", "ask": "20.05", "volume": 5},
            {"symbol": "ACME", "last": "101", "bid": "100.95", "ask": "101.05", "volume": 7},
            {"symbol": "FOO", "last": "21", "bid": "20.95", "ask": "21.05", "volume": 3},
        ],
    )
    # when both are asked for
    response = alice.get("/market-data?symbols=ACME,FOO")
    # then one latest quote per symbol, with the documented keys, decimals as strings
    assert response.status_code == 200
    results = {q["symbol"]: q for q in response.json()["results"]}
    assert set(results) == {"ACME", "FOO"}
    for quote in results.values():
        assert {"symbol", "last", "bid", "ask", "volume", "ts"} <= set(quote)
        assert all(isinstance(quote[k], str) for k in ("last", "bid", "ask", "volume"))
    assert (results["ACME"]["last"], results["ACME"]["bid"], results["ACME"]["ask"]) == (
        "101",
        "100.95",
        "101.05",
    )
    assert results["FOO"]["last"] == "21"


def test_bars_are_ohlcv(admin, alice):
    # given three ticks of a new instrument within one minute (5 minutes ago)
    assert admin.post("/instruments", {**SIM_INSTRUMENT, "symbol": "BARS"}).status_code == 201
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    ticks = [
        {"symbol": "BARS", "last": p, "volume": v, "ts": _at(minute, at)}
        for p, v, at in (("100", 10, 1), ("103", 5, 20), ("99", 2, 40))
    ]
    pushed = admin.post("/market-data/ticks", ticks)
    assert pushed.status_code == 202 and pushed.json()["accepted"] == 3, pushed.content
    # when the 1m bars of that minute are asked for
    response = alice.get(
        "/market-data/BARS/bars",
        {
            "interval": "1m",
            "from": minute.isoformat(),
            "to": (minute + timedelta(seconds=59)).isoformat(),
        },
    )
    # then one OHLCV bar with open/high/low/close/volume as decimal strings
    assert response.status_code == 200, response.content
    bars = response.json()["results"]
    assert len(bars) == 1, bars
    bar = bars[0]
    assert (bar["open"], bar["high"], bar["low"], bar["close"], bar["volume"]) == (
        "100",
        "103",
        "99",
        "99",
        "17",
    )
    assert datetime.fromisoformat(bar["ts"].replace("Z", "+00:00")) == minute


def test_bars_of_an_unknown_symbol_are_404_and_a_bad_interval_is_400(alice, acme):
    # given ACME
    # when bars of an unknown symbol, or with a bad interval, are asked for
    # then 404 not_found and 400 validation_error naming interval
    assert_error(alice.get("/market-data/NOPE/bars?interval=1m"), 404, "not_found")
    assert_error(
        alice.get("/market-data/ACME/bars?interval=7q"), 400, "validation_error", field="interval"
    )


# --- tick push ----------------------------------------------------------------------------------


def test_admin_pushes_a_single_tick_and_a_list(admin, alice, acme):
    # given ACME quoted at 100
    # when an admin pushes one tick, then a list
    single = admin.post(
        "/market-data/ticks",
        {"symbol": "ACME", "last": "10.50", "bid": "10.45", "ask": "10.55", "volume": 100},
    )
    many = admin.post(
        "/market-data/ticks",
        [{"symbol": "ACME", "last": "10.60"}, {"symbol": "ACME", "last": 10.65}],
    )
    # then both are 202 and the quote moved to the last one
    assert single.status_code == 202, single.content
    assert many.status_code == 202, many.content
    quote = alice.get("/market-data?symbols=ACME").json()["results"][0]
    assert quote["last"] == "10.65"


def test_a_feed_key_may_push_ticks(db, django_capture_on_commit_callbacks, acme, api_as):
    from rest_framework.test import APIClient

    # given a non-admin user with a feed key (scope marketdata:push) and one without
    api_as("feeder", "viewer")
    feed_key = issue_key("feeder", role=None, create=False, scopes=["marketdata:push"])
    plain_key = issue_key("feeder", role=None, create=False)
    feed, plain = APIClient(), APIClient()
    feed.credentials(HTTP_AUTHORIZATION=f"Token {feed_key}")
    plain.credentials(HTTP_AUTHORIZATION=f"Token {plain_key}")
    tick = {"symbol": "ACME", "last": "11"}
    # when each pushes a tick
    # then the feed key is accepted and the plain key refused
    with django_capture_on_commit_callbacks(execute=True):
        assert feed.post("/api/v1/market-data/ticks", tick, format="json").status_code == 202
        assert_error(
            plain.post("/api/v1/market-data/ticks", tick, format="json"), 403, "permission_denied"
        )


@pytest.mark.parametrize(
    "bad",
    [
        {"symbol": "ACME", "last": "abc"},
        {"symbol": "ACME", "last": "-1"},
        {"symbol": "NOPE", "last": "10"},
        {"last": "10"},
        {"symbol": "ACME", "last": "10", "ts": "yesterday"},
    ],
)
def test_a_bad_tick_is_400_and_nothing_is_applied(bad, admin, alice, acme):
    # given ACME quoted at 100
    # when a list with a good tick and a bad one is pushed
    response = admin.post("/market-data/ticks", [{"symbol": "ACME", "last": "55"}, bad])
    # then 400 validation_error and even the good tick was not applied
    assert_error(response, 400, "validation_error")
    assert alice.get("/market-data?symbols=ACME").json()["results"][0]["last"] == "100"


def test_a_pushed_tick_triggers_like_a_feed_tick_and_fills_paper_orders(admin, alice, acme):
    # given a resting paper buy limit at 95 (the market is 100)
    account = open_account(alice)
    placed = alice.post("/orders", order_body(account, qty="2", limit_price="95"))
    assert placed.status_code == 201, placed.content
    # when a tick crosses it through the API
    admin.post("/market-data/ticks", {"symbol": "ACME", "last": "94", "bid": "93.95", "ask": "94"})
    # then the order is filled at the limit or better
    order = alice.get(f"/orders/{placed.json()['id']}").json()
    assert order["status"] == "filled", order
    assert float(order["avg_fill_price"]) <= 95


def test_a_pushed_tick_fires_stops_and_trailing_stops(admin, alice, acme):
    # given a stop buy at 105 and a trailing sell stop 2 below the market (short allowed)
    account = open_account(alice)
    admin.patch(f"/accounts/{account['id']}/risk-limits", {"allow_short": True})
    stop = alice.post(
        "/orders",
        order_body(account, type="stop", qty="1", limit_price=None, stop_price="105"),
    ).json()
    trailing = alice.post(
        "/orders",
        order_body(
            account, side="sell", type="trailing_stop", qty="1", limit_price=None, trail_price="2"
        ),
    ).json()
    assert stop["status"] == "held" and trailing["status"] == "held", (stop, trailing)
    # when ticks lift the market to 106, then drop it to 103.5
    admin.post("/market-data/ticks", {"symbol": "ACME", "last": "106", "bid": "106", "ask": "106"})
    admin.post(
        "/market-data/ticks", {"symbol": "ACME", "last": "103.5", "bid": "103.5", "ask": "103.5"}
    )
    # then both fired and filled (the trailing stop followed 106 up to a stop at 104)
    assert alice.get(f"/orders/{stop['id']}").json()["status"] == "filled"
    assert alice.get(f"/orders/{trailing['id']}").json()["status"] == "filled"


# --- order book ---------------------------------------------------------------------------------


def test_orderbook_shape_best_price_first(admin, alice, bob, acme):
    # given resting orders on the internal exchange from two accounts that may sell short
    mine = open_account(alice, broker="exchange")
    theirs = open_account(bob, broker="exchange")
    for account in (mine, theirs):
        limits = admin.patch(f"/accounts/{account['id']}/risk-limits", {"allow_short": True})
        assert limits.status_code == 200, limits.content
    for account, caller, side, price, qty in (
        (mine, alice, "buy", "99", "5"),
        (theirs, bob, "buy", "99", "3"),
        (mine, alice, "buy", "98", "1"),
        (theirs, bob, "sell", "101", "4"),
        (mine, alice, "sell", "102", "2"),
    ):
        response = caller.post(
            "/orders", order_body(account, side=side, limit_price=price, qty=qty)
        )
        assert response.status_code == 201, response.content
    # when the book is read
    response = alice.get("/orderbook/ACME?depth=10")
    # then the documented shape, best price first, quantities aggregated per level
    assert response.status_code == 200, response.content
    book = response.json()
    assert {"symbol", "bids", "asks", "ts"} <= set(book)
    assert book["symbol"] == "ACME"
    assert book["bids"] == [
        {"price": "99", "qty": "8", "orders": 2},
        {"price": "98", "qty": "1", "orders": 1},
    ]
    assert book["asks"] == [
        {"price": "101", "qty": "4", "orders": 1},
        {"price": "102", "qty": "2", "orders": 1},
    ]
    # and depth limits the levels per side
    shallow = alice.get("/orderbook/ACME?depth=1").json()
    assert len(shallow["bids"]) == 1 and len(shallow["asks"]) == 1


def test_orderbook_of_an_unknown_symbol_is_404(alice):
    # given no instrument NOPE
    # when its book is read
    # then 404 not_found
    assert_error(alice.get("/orderbook/NOPE"), 404, "not_found")
