"""REST API of instruments and market data (API.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from marketdata import services
from marketdata.models import Bar, Instrument, Quote
from tests.factories import ApiKeyFactory, UserFactory

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 10, 0, 5, tzinfo=UTC)


@pytest.fixture
def trader_client(make_key_client, trader):
    return make_key_client(trader)


@pytest.fixture
def admin_client(make_key_client, admin_user):
    return make_key_client(admin_user)


def test_instruments_need_authentication(api_client, acme):
    response = api_client.get("/api/v1/instruments")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_list_and_filter_instruments(trader_client, acme, globex):
    body = trader_client.get("/api/v1/instruments").json()
    assert body["count"] == 2
    assert [i["symbol"] for i in body["results"]] == ["ACME", "GLOBEX"]
    first = body["results"][0]
    assert first["tick_size"] == "0.05" and first["lot_size"] == "1"
    assert first["exchange"] == "SIM"
    found = trader_client.get("/api/v1/instruments?q=glob").json()
    assert [i["symbol"] for i in found["results"]] == ["GLOBEX"]
    assert trader_client.get("/api/v1/instruments?exchange=NSE").json()["count"] == 0


def test_get_one_instrument_and_404_for_an_unknown_one(trader_client, acme):
    assert trader_client.get("/api/v1/instruments/ACME").json()["symbol"] == "ACME"
    assert trader_client.get("/api/v1/instruments/acme/").status_code == 200
    missing = trader_client.get("/api/v1/instruments/NOPE")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_admin_creates_an_instrument(admin_client, sim_exchange):
    payload = {
        "symbol": "wayne",
        "exchange": "SIM",
        "name": "Wayne",
        "tick_size": "0.01",
        "lot_size": 10,
        "currency": "INR",
    }
    response = admin_client.post("/api/v1/instruments", payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["symbol"] == "WAYNE" and body["tick_size"] == "0.01" and body["lot_size"] == "10"
    duplicate = admin_client.post("/api/v1/instruments", payload, format="json")
    assert duplicate.status_code == 409


def test_a_trader_may_not_create_instruments(trader_client, sim_exchange):
    response = trader_client.post(
        "/api/v1/instruments", {"symbol": "X", "exchange": "SIM"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not Instrument.objects.filter(symbol="X").exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tick_size", "0"),
        ("tick_size", "-0.05"),
        ("lot_size", "abc"),
        ("lot_size", 0),
        ("exchange", "NOPE"),
    ],
)
def test_bad_tick_lot_or_exchange_is_a_400_naming_the_field(
    admin_client, sim_exchange, field, value
):
    payload = {"symbol": "BAD", "exchange": "SIM", "tick_size": "0.05", "lot_size": 1, field: value}
    response = admin_client.post("/api/v1/instruments", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Instrument.objects.filter(symbol="BAD").exists()


def test_latest_quotes_of_several_symbols(trader_client, acme, globex):
    services.tick_ingest(symbol="ACME", last="101.25", bid="101.2", ask="101.3", volume=5, ts=T0)
    body = trader_client.get("/api/v1/market-data?symbols=ACME,GLOBEX,NOPE").json()
    acme_q, globex_q = body["results"]
    assert acme_q == {
        **acme_q,
        "symbol": "ACME",
        "last": "101.25",
        "bid": "101.2",
        "ask": "101.3",
        "volume": "5",
        "ts": "2026-03-02T10:00:05Z",
    }
    assert globex_q["symbol"] == "GLOBEX" and globex_q["last"] is None  # no tick yet
    assert len(body["results"]) == 2  # unknown symbols are left out


def test_bars_endpoint_derives_higher_intervals(trader_client, acme):
    # given ticks over 6 minutes from 10:00
    base = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    services.ticks_ingest(
        ticks=[
            {
                "symbol": "ACME",
                "last": str(100 + i),
                "volume": 1,
                "ts": (base + timedelta(minutes=i)).isoformat(),
            }
            for i in range(6)
        ]
    )
    one = trader_client.get("/api/v1/market-data/ACME/bars?interval=1m").json()
    assert one["symbol"] == "ACME" and one["interval"] == "1m"
    assert [b["close"] for b in one["results"]] == ["100", "101", "102", "103", "104", "105"]
    five = trader_client.get(
        "/api/v1/market-data/ACME/bars?interval=5m&from=2026-03-02T10:00:00Z&to=2026-03-02T11:00:00Z"
    ).json()["results"]
    assert five == [
        {
            "ts": "2026-03-02T10:00:00Z",
            "open": "100",
            "high": "104",
            "low": "100",
            "close": "104",
            "volume": "5",
        },
        {
            "ts": "2026-03-02T10:05:00Z",
            "open": "105",
            "high": "105",
            "low": "105",
            "close": "105",
            "volume": "1",
        },
    ]


@pytest.mark.parametrize("query", ["interval=2m", "from=yesterday", "to=2026-13-01T00:00:00Z"])
def test_bad_bar_queries_are_400(trader_client, acme, query):
    response = trader_client.get(f"/api/v1/market-data/ACME/bars?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_admin_pushes_a_single_tick(admin_client, acme):
    response = admin_client.post(
        "/api/v1/market-data/ticks",
        {
            "symbol": "ACME",
            "last": 10.5,
            "bid": "10.45",
            "ask": "10.55",
            "volume": 100,
            "ts": T0.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["accepted"] == 1 and body["dropped"] == 0
    assert Quote.objects.get(symbol="ACME").last == 10.5


def test_a_feed_key_pushes_a_list_and_stale_ticks_are_counted_as_dropped(api_client, acme):
    feeder = UserFactory(username="feeder", role="viewer")
    key = ApiKeyFactory.issue(user=feeder, scopes=["marketdata:push"])
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key.raw_key}")
    ticks = [
        {"symbol": "ACME", "last": "10", "ts": (T0 + timedelta(seconds=2)).isoformat()},
        {"symbol": "ACME", "last": "11", "ts": T0.isoformat()},
    ]
    response = api_client.post("/api/v1/market-data/ticks", ticks, format="json")
    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["dropped"]) == (1, 1)
    assert body["results"][1]["reason"] == "stale"


def test_a_key_without_the_push_scope_is_forbidden(trader_client, acme):
    response = trader_client.post(
        "/api/v1/market-data/ticks", {"symbol": "ACME", "last": "10"}, format="json"
    )
    assert response.status_code == 403
    assert not Quote.objects.exists()


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"symbol": "NOPE", "last": "10"}, "1.symbol"),
        ({"symbol": "ACME", "last": "0"}, "1.last"),
        ({"symbol": "ACME", "last": "-3"}, "1.last"),
        ({"symbol": "ACME", "last": "10", "bid": "10.2", "ask": "10.1"}, "1.bid"),
        ({"symbol": "ACME", "last": "10", "ts": "12/03/2026 10:00"}, "1.ts"),
    ],
)
def test_any_invalid_tick_rejects_the_whole_push(admin_client, acme, bad, field):
    ticks = [{"symbol": "ACME", "last": "10", "ts": T0.isoformat()}, bad]
    response = admin_client.post("/api/v1/market-data/ticks", ticks, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]
    assert not Quote.objects.filter(last__isnull=False).exists()
    assert not Bar.objects.exists()


def test_an_empty_push_is_400(admin_client, acme):
    assert admin_client.post("/api/v1/market-data/ticks", [], format="json").status_code == 400


def test_watchlist_is_per_user(make_key_client, trader, acme, globex):
    mine = make_key_client(trader)
    other = make_key_client(UserFactory(username="other"))
    assert mine.post("/api/v1/watchlist", {"symbol": "acme"}, format="json").status_code == 201
    assert mine.post("/api/v1/watchlist", {"symbol": "GLOBEX"}, format="json").status_code == 201
    assert [i["symbol"] for i in mine.get("/api/v1/watchlist").json()["results"]] == [
        "ACME",
        "GLOBEX",
    ]
    assert other.get("/api/v1/watchlist").json()["results"] == []
    # removing from someone else's list does nothing to mine
    assert other.delete("/api/v1/watchlist/ACME").status_code == 404
    assert mine.delete("/api/v1/watchlist/ACME").status_code == 204
    assert [i["symbol"] for i in mine.get("/api/v1/watchlist").json()["results"]] == ["GLOBEX"]
    bad = mine.post("/api/v1/watchlist", {"symbol": "NOPE"}, format="json")
    assert bad.status_code == 400 and "symbol" in bad.json()["error"]["fields"]
