"""The /ws/stream/ consumer on the real ASGI app: who receives which published event."""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.db import transaction

from accounts.models import AccountMembership
from notifications.services import publish
from tests.factories import UserFactory, account_with_member
from tests.notifications.stream_helpers import (
    next_message,
    open_stream,
    subscribe,
    unsubscribe,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

publish_async = database_sync_to_async(publish)


def order_payload(account, **overrides) -> dict:
    data = {
        "id": "7d0f5c1e-0000-4000-8000-000000000001",
        "account": str(account.pk),
        "symbol": "ACME",
        "qty": Decimal("100.000"),
        "limit_price": Decimal("10.50"),
        "status": "new",
    }
    data.update(overrides)
    return data


@pytest.fixture
def alice_and_account(trader):
    return trader, account_with_member(user=trader, role="owner")


@pytest.fixture
def bob_and_account():
    bob = UserFactory(username="bob")
    return bob, account_with_member(user=bob, role="owner")


async def test_api_key_client_receives_event_of_its_account(alice_and_account, api_key_for):
    # given Alice's API-key stream subscribed to orders
    alice, account = alice_and_account
    key = await database_sync_to_async(api_key_for)(alice)
    async with open_stream(token=key) as ws:
        reply = await subscribe(ws, ["orders"])
        assert reply == {"channels": ["orders"], "rejected": []}

        # when an order of her account is published
        await publish_async(
            channel="orders",
            event="order.updated",
            data=order_payload(account),
            account_id=account.pk,
        )

        # then she gets it in the REST shape, decimals as plain strings
        message = await next_message(ws)
        assert message == {
            "channel": "orders",
            "event": "order.updated",
            "seq": 1,  # her first push
            "data": {
                "id": "7d0f5c1e-0000-4000-8000-000000000001",
                "account": str(account.pk),
                "symbol": "ACME",
                "qty": "100",
                "limit_price": "10.5",
                "status": "new",
            },
        }


async def test_other_users_client_receives_nothing_of_foreign_accounts(
    alice_and_account, bob_and_account, api_key_for
):
    # given Bob subscribed to the same channel name, with his own account
    _, alice_account = alice_and_account
    bob, bob_account = bob_and_account
    key = await database_sync_to_async(api_key_for)(bob)
    async with open_stream(token=key) as ws:
        await subscribe(ws, ["orders", "fills", "positions"])

        # when Alice's account publishes on every channel, then Bob's account once
        for channel in ("orders", "fills", "positions"):
            await publish_async(
                channel=channel,
                event=f"{channel}.secret",
                data=order_payload(alice_account),
                account_id=alice_account.pk,
            )
        await publish_async(
            channel="orders",
            event="order.updated",
            data=order_payload(bob_account),
            account_id=bob_account.pk,
        )

        # then the first thing Bob sees is his own event: none of Alice's reached him
        message = await next_message(ws)
        assert message["event"] == "order.updated"
        assert message["data"]["account"] == str(bob_account.pk)
        assert await ws.receive_nothing()


async def test_account_filtered_channel_of_an_invisible_account_is_rejected(
    alice_and_account, bob_and_account, api_key_for
):
    # given Bob, who cannot see Alice's account
    _, alice_account = alice_and_account
    bob, bob_account = bob_and_account
    key = await database_sync_to_async(api_key_for)(bob)
    async with open_stream(token=key) as ws:
        # when he asks for her account's orders, his own, and an unknown channel
        reply = await subscribe(
            ws,
            [f"orders:{alice_account.pk}", f"orders:{bob_account.pk}", "secrets", 42],
        )

        # then only his own is accepted
        assert reply["channels"] == [f"orders:{bob_account.pk}"]
        assert reply["rejected"] == [f"orders:{alice_account.pk}", "secrets", "42"]

        # and events arrive labelled with the channel as he subscribed it
        await publish_async(
            channel="orders",
            event="order.updated",
            data=order_payload(alice_account),
            account_id=alice_account.pk,
        )
        await publish_async(
            channel="orders",
            event="order.updated",
            data=order_payload(bob_account),
            account_id=bob_account.pk,
        )
        message = await next_message(ws)
        assert message["channel"] == f"orders:{bob_account.pk}"
        assert message["data"]["account"] == str(bob_account.pk)


async def test_view_only_member_receives_account_events(bob_and_account, api_key_for):
    # given Carol with view-only access to Bob's account
    _, account = bob_and_account
    carol = await database_sync_to_async(UserFactory)(username="carol")
    await database_sync_to_async(AccountMembership.objects.create)(
        user=carol, account=account, role="view"
    )
    key = await database_sync_to_async(api_key_for)(carol)
    async with open_stream(token=key) as ws:
        await subscribe(ws, ["fills"])

        # when a fill of that account is published
        await publish_async(
            channel="fills", event="fill.created", data={"qty": Decimal("5")}, account_id=account.pk
        )

        # then she sees it
        message = await next_message(ws)
        assert message == {
            "channel": "fills",
            "event": "fill.created",
            "data": {"qty": "5"},
            "seq": 1,
        }


async def test_unsubscribe_stops_delivery(alice_and_account, api_key_for):
    # given Alice subscribed to orders, then unsubscribed
    alice, account = alice_and_account
    key = await database_sync_to_async(api_key_for)(alice)
    async with open_stream(token=key) as ws:
        await subscribe(ws, ["orders", "quotes:ACME"])
        reply = await unsubscribe(ws, ["orders", "never-subscribed"])
        assert reply == {"channels": ["orders"]}

        # when an order and then a quote are published
        await publish_async(
            channel="orders",
            event="order.updated",
            data=order_payload(account),
            account_id=account.pk,
        )
        await publish_async(channel="quotes:ACME", event="quote", data={"last": Decimal("10")})

        # then only the quote arrives
        message = await next_message(ws)
        assert message == {"channel": "quotes:ACME", "event": "quote", "data": {"last": "10"}}


async def test_ping_answers_pong(alice_and_account, api_key_for):
    alice, _ = alice_and_account
    key = await database_sync_to_async(api_key_for)(alice)
    async with open_stream(token=key) as ws:
        # when the client pings
        await ws.send_json_to({"action": "ping"})
        # then the server pongs
        message = await next_message(ws)
        assert message["event"] == "pong"
        assert "ts" in message["data"]


async def test_quotes_and_book_channels_reach_every_subscriber_of_that_symbol(
    alice_and_account, bob_and_account, api_key_for
):
    # given Alice on ACME quotes (and an odd symbol), Bob on ACME's book and FOO's quotes
    alice, _ = alice_and_account
    bob, _ = bob_and_account
    alice_key = await database_sync_to_async(api_key_for)(alice)
    bob_key = await database_sync_to_async(api_key_for)(bob)
    async with open_stream(token=alice_key) as a_ws, open_stream(token=bob_key) as b_ws:
        await subscribe(a_ws, ["quotes:ACME", "quotes:M&M"])
        await subscribe(b_ws, ["book:ACME", "quotes:FOO"])

        # when quotes and a book update are published
        await publish_async(channel="quotes:ACME", event="quote", data={"last": Decimal("10.50")})
        await publish_async(channel="quotes:M&M", event="quote", data={"last": Decimal("2")})
        await publish_async(
            channel="book:ACME",
            event="book",
            data={"bids": [{"price": Decimal("10.45"), "qty": Decimal("3")}], "asks": []},
        )

        # then each gets what they asked for, labelled by channel
        assert await next_message(a_ws) == {
            "channel": "quotes:ACME",
            "event": "quote",
            "data": {"last": "10.5"},
        }
        assert await next_message(a_ws) == {
            "channel": "quotes:M&M",
            "event": "quote",
            "data": {"last": "2"},
        }
        assert await next_message(b_ws) == {
            "channel": "book:ACME",
            "event": "book",
            "data": {"bids": [{"price": "10.45", "qty": "3"}], "asks": []},
        }
        # and Bob got no ACME quote (he subscribed to the book and to FOO only)
        assert await b_ws.receive_nothing()


class _Rollback(Exception):
    pass


def _publish_then_roll_back(account) -> None:
    with contextlib.suppress(_Rollback), transaction.atomic():
        publish(
            channel="orders",
            event="order.phantom",
            data=order_payload(account),
            account_id=account.pk,
        )
        raise _Rollback


def _publish_in_committed_transaction(account) -> None:
    with transaction.atomic():
        publish(
            channel="orders",
            event="order.updated",
            data=order_payload(account),
            account_id=account.pk,
        )


async def test_publish_inside_a_rolled_back_transaction_sends_nothing(
    alice_and_account, api_key_for
):
    # given Alice subscribed to orders
    alice, account = alice_and_account
    key = await database_sync_to_async(api_key_for)(alice)
    async with open_stream(token=key) as ws:
        await subscribe(ws, ["orders"])

        # when one publish is rolled back and another commits
        await database_sync_to_async(_publish_then_roll_back)(account)
        await database_sync_to_async(_publish_in_committed_transaction)(account)

        # then only the committed one is delivered
        message = await next_message(ws)
        assert message["event"] == "order.updated"
        assert await ws.receive_nothing()


async def test_admin_gets_every_account_once_per_subscribed_channel(
    admin_user, alice_and_account, bob_and_account, api_key_for
):
    # given an admin (member of nothing) subscribed to all orders and to Alice's account
    _, alice_account = alice_and_account
    _, bob_account = bob_and_account
    key = await database_sync_to_async(api_key_for)(admin_user)
    async with open_stream(token=key) as ws:
        reply = await subscribe(ws, ["orders", f"orders:{alice_account.pk}"])
        assert reply["rejected"] == []

        # when Alice's then Bob's accounts publish
        for account in (alice_account, bob_account):
            await publish_async(
                channel="orders",
                event="order.updated",
                data=order_payload(account),
                account_id=account.pk,
            )

        # then Alice's event arrives once on each channel, Bob's once on "orders"
        received = [await next_message(ws) for _ in range(3)]
        labels = sorted((m["channel"], m["data"]["account"]) for m in received)
        assert labels == sorted(
            [
                ("orders", str(alice_account.pk)),
                (f"orders:{alice_account.pk}", str(alice_account.pk)),
                ("orders", str(bob_account.pk)),
            ]
        )
        assert await ws.receive_nothing()


async def test_bad_messages_get_an_error_and_keep_the_connection(alice_and_account, api_key_for):
    alice, _ = alice_and_account
    key = await database_sync_to_async(api_key_for)(alice)
    async with open_stream(token=key) as ws:
        # when the client sends garbage, an unknown action and a non-list
        await ws.send_to(text_data="{not json")
        assert (await next_message(ws))["data"]["code"] == "validation_error"
        await ws.send_json_to({"action": "explode"})
        assert (await next_message(ws))["data"]["code"] == "validation_error"
        await ws.send_json_to({"action": "subscribe", "channels": {"orders": 1}})
        assert (await next_message(ws))["data"]["code"] == "validation_error"
        await ws.send_to(bytes_data=b"\x00\x01")
        assert (await next_message(ws))["event"] == "error"

        # then the connection still works
        await ws.send_json_to({"action": "ping"})
        assert (await next_message(ws))["event"] == "pong"


async def test_dealer_with_many_accounts_gets_each_accounts_events(api_key_for):
    # given a dealer assigned to more accounts than one batch of group joins
    dealer = await database_sync_to_async(UserFactory)(username="dealer", role="dealer")
    accounts = [
        await database_sync_to_async(account_with_member)(user=dealer, role="trade")
        for _ in range(70)
    ]
    key = await database_sync_to_async(api_key_for)(dealer)
    async with open_stream(token=key) as ws:
        await subscribe(ws, ["orders"])

        # when the first and the last account publish
        for account in (accounts[0], accounts[-1]):
            await publish_async(
                channel="orders",
                event="order.updated",
                data=order_payload(account),
                account_id=account.pk,
            )

        # then both arrive, in order
        first, last = await next_message(ws), await next_message(ws)
        assert first["data"]["account"] == str(accounts[0].pk)
        assert last["data"]["account"] == str(accounts[-1].pk)
