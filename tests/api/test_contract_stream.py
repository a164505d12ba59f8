"""API.md § Live updates: /ws/stream/ with ?token= or a session, subscribe, push shape, and
"a user only ever receives events of accounts they may see". Real commits (transactional
tests): pushes are sent after the database commit."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.test import Client
from rest_framework.test import APIClient

from notifications.services import channel_layer_flush
from tests.api.helpers import SIM_INSTRUMENT, issue_key, order_body
from tests.notifications.stream_helpers import next_message, open_stream, subscribe, wait_closed

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

ORDER_KEYS = {"id", "account", "symbol", "side", "type", "qty", "status", "legs", "created_at"}


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    channel_layer_flush()
    yield


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@database_sync_to_async
def given_a_market_and_three_users() -> dict:
    """Admin, Alice (with a paper account), Bob (with his own) and Vic (views Alice's)."""
    from accounts.models import TradingAccount, User
    from tests.factories import MembershipFactory

    keys = {
        "admin": issue_key("ops_admin", role="admin"),
        "alice": issue_key("alice"),
        "bob": issue_key("bob"),
        "vic": issue_key("vic", role="viewer"),
    }
    admin = _client(keys["admin"])
    assert admin.post("/api/v1/instruments", SIM_INSTRUMENT, format="json").status_code == 201
    tick = {"symbol": "ACME", "last": "100", "bid": "99.95", "ask": "100.05"}
    assert admin.post("/api/v1/market-data/ticks", tick, format="json").status_code == 202
    accounts = {}
    for who in ("alice", "bob"):
        response = _client(keys[who]).post(
            "/api/v1/accounts",
            {"name": who, "broker": "paper", "starting_cash": "100000"},
            format="json",
        )
        assert response.status_code == 201, response.content
        accounts[who] = response.json()
    MembershipFactory(
        user=User.objects.get(username="vic"),
        account=TradingAccount.objects.get(pk=accounts["alice"]["id"]),
        role="view",
    )
    return {"keys": keys, "accounts": accounts}


def _post(key: str, path: str, body) -> int:
    response = _client(key).post(f"/api/v1{path}", body, format="json")
    return response.status_code


async def test_a_token_connection_subscribes_and_gets_pushes_in_the_documented_shape():
    # given Alice connected with ?token= and subscribed to her orders
    world = await given_a_market_and_three_users()
    async with open_stream(token=world["keys"]["alice"]) as alice:
        assert alice is not None
        reply = await subscribe(alice, ["orders"])
        assert "orders" in reply["channels"]
        # when she places an order over REST
        body = order_body(world["accounts"]["alice"], qty="1", limit_price="90")
        assert await sync_to_async(_post)(world["keys"]["alice"], "/orders", body) == 201
        # then she is pushed {"channel", "event", "data"} with the order as in REST
        message = await next_message(alice)
        assert set(message) >= {"channel", "event", "data"}, message
        assert message["channel"] == "orders" and message["event"] == "order.updated"
        assert set(message["data"]) >= ORDER_KEYS
        assert message["data"]["account"] == world["accounts"]["alice"]["id"]


async def test_users_only_receive_events_of_accounts_they_may_see():
    # given Alice, Bob, Vic (views Alice's account) and an admin, all subscribed to orders
    world = await given_a_market_and_three_users()
    keys = world["keys"]
    async with (
        open_stream(token=keys["alice"]) as alice,
        open_stream(token=keys["bob"]) as bob,
        open_stream(token=keys["vic"]) as vic,
        open_stream(token=keys["admin"]) as admin,
    ):
        for stream in (alice, bob, vic, admin):
            await subscribe(stream, ["orders"])
        # when Alice places an order
        body = order_body(world["accounts"]["alice"], qty="1", limit_price="90")
        assert await sync_to_async(_post)(keys["alice"], "/orders", body) == 201
        # then Alice, Vic and the admin hear of it, Bob hears nothing
        for stream in (alice, vic, admin):
            message = await next_message(stream)
            assert message["data"]["account"] == world["accounts"]["alice"]["id"]
        assert await bob.receive_nothing(timeout=0.5)


async def test_subscribing_to_someone_elses_account_channel_is_refused():
    # given Bob
    world = await given_a_market_and_three_users()
    alice_account = world["accounts"]["alice"]["id"]
    async with open_stream(token=world["keys"]["bob"]) as bob:
        # when he subscribes to Alice's account channel
        reply = await subscribe(bob, [f"orders:{alice_account}"])
        # then it is rejected, and her orders never reach him
        assert f"orders:{alice_account}" in reply["rejected"]
        body = order_body(world["accounts"]["alice"], qty="1", limit_price="90")
        assert await sync_to_async(_post)(world["keys"]["alice"], "/orders", body) == 201
        assert await bob.receive_nothing(timeout=0.5)


async def test_a_pushed_tick_reaches_a_quotes_subscriber():
    # given Vic subscribed to quotes:ACME
    world = await given_a_market_and_three_users()
    async with open_stream(token=world["keys"]["vic"]) as vic:
        await subscribe(vic, ["quotes:ACME"])
        # when an admin pushes a tick over REST
        tick = {"symbol": "ACME", "last": "10.50", "bid": "10.45", "ask": "10.55", "volume": 100}
        assert await sync_to_async(_post)(world["keys"]["admin"], "/market-data/ticks", tick) == 202
        # then Vic receives the quote, decimals as strings
        message = await next_message(vic)
        assert message["channel"] == "quotes:ACME"
        data = message["data"]
        assert (data["symbol"], data["last"], data["bid"], data["ask"]) == (
            "ACME",
            "10.5",
            "10.45",
            "10.55",
        )


async def test_a_rejected_tick_pushes_nothing():
    # given Vic subscribed to quotes:ACME
    world = await given_a_market_and_three_users()
    async with open_stream(token=world["keys"]["vic"]) as vic:
        await subscribe(vic, ["quotes:ACME"])
        # when a batch with a bad tick is pushed
        ticks = [{"symbol": "ACME", "last": "11"}, {"symbol": "ACME", "last": "x"}]
        assert (
            await sync_to_async(_post)(world["keys"]["admin"], "/market-data/ticks", ticks) == 400
        )
        # then nothing is pushed
        assert await vic.receive_nothing(timeout=0.5)


async def test_a_session_connects_too():
    # given Alice logged in with a browser session
    world = await given_a_market_and_three_users()

    def login() -> str:
        from accounts.models import User

        browser = Client()
        browser.force_login(User.objects.get(username="alice"))
        return browser.cookies["sessionid"].value

    session = await database_sync_to_async(login)()
    async with open_stream(session_key=session) as alice:
        # when she subscribes and places an order
        assert alice is not None
        await subscribe(alice, ["orders"])
        body = order_body(world["accounts"]["alice"], qty="1", limit_price="90")
        assert await sync_to_async(_post)(world["keys"]["alice"], "/orders", body) == 201
        # then it is pushed to her
        assert (await next_message(alice))["event"] == "order.updated"


async def test_no_credentials_get_not_authenticated_and_the_stream_closes():
    # given no credentials, or a bad token
    for token in (None, "not-a-key"):
        async with open_stream(token=token) as stream:
            # when connecting
            # then an error event not_authenticated, then the socket closes
            assert stream is not None
            message = await next_message(stream)
            assert message["event"] == "error"
            assert message["data"]["code"] == "not_authenticated"
            closed = await wait_closed(stream)
            assert closed["code"] == 4401
