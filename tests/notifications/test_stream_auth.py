"""Who may open /ws/stream/, and what happens when their credentials or access go away."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.models import AccountMembership, ApiKey
from notifications.services import publish
from notifications.stream import account_group
from tests.factories import UserFactory, account_with_member
from tests.notifications.stream_helpers import (
    next_message,
    open_stream,
    subscribe,
    wait_closed,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

publish_async = database_sync_to_async(publish)


@pytest.fixture
def account(trader):
    return account_with_member(user=trader, role="owner")


async def _assert_rejected_as_unauthenticated(ws) -> None:
    message = await next_message(ws)
    assert message == {
        "event": "error",
        "data": {"code": "not_authenticated", "message": message["data"]["message"]},
    }
    closed = await wait_closed(ws)
    assert closed["code"] == 4401


async def test_no_credentials_is_told_and_closed_with_4401():
    # given a client with neither session nor key
    async with open_stream() as ws:
        # then it is told why and closed
        await _assert_rejected_as_unauthenticated(ws)


async def test_invalid_key_is_closed_even_with_a_valid_session(trader, session_key_for):
    # given a logged-in browser that also offers a wrong key: the key decides
    session_key = await database_sync_to_async(session_key_for)(trader)
    async with open_stream(token="oms_deadbeef_nope", session_key=session_key) as ws:
        await _assert_rejected_as_unauthenticated(ws)


async def test_revoked_key_is_refused(trader, api_key_for):
    key = await database_sync_to_async(api_key_for)(trader)
    await database_sync_to_async(ApiKey.objects.filter(user=trader).update)(
        revoked_at=timezone.now()
    )
    async with open_stream(token=key) as ws:
        await _assert_rejected_as_unauthenticated(ws)


async def test_inactive_users_key_is_refused(trader, api_key_for):
    key = await database_sync_to_async(api_key_for)(trader)
    trader.is_active = False
    await database_sync_to_async(trader.save)()
    async with open_stream(token=key) as ws:
        await _assert_rejected_as_unauthenticated(ws)


@pytest.mark.parametrize("how", ["session", "query_token", "header_token"])
async def test_each_way_to_authenticate_gets_the_users_events(
    how, trader, account, api_key_for, session_key_for
):
    # given the trader connected by session cookie, ?token= or Authorization: Token
    if how == "session":
        kwargs = {"session_key": await database_sync_to_async(session_key_for)(trader)}
    elif how == "query_token":
        kwargs = {"token": await database_sync_to_async(api_key_for)(trader)}
    else:
        kwargs = {"header_token": await database_sync_to_async(api_key_for)(trader)}
    async with open_stream(**kwargs) as ws:
        await subscribe(ws, ["positions"])

        # when a position of the account changes
        await publish_async(
            channel="positions",
            event="position.updated",
            data={"symbol": "ACME"},
            account_id=account.pk,
        )

        # then the trader sees it, numbered
        assert await next_message(ws) == {
            "channel": "positions",
            "event": "position.updated",
            "data": {"symbol": "ACME"},
            "seq": 1,
        }


@pytest.mark.parametrize("origin", [b"http://evil.example", None])
async def test_session_from_a_foreign_or_no_origin_is_refused(origin, trader, session_key_for):
    # given a session cookie presented by another site, or by a page-less client
    session_key = await database_sync_to_async(session_key_for)(trader)
    # when it opens the stream, then the handshake is refused (cross-site hijacking)
    async with open_stream(session_key=session_key, origin=origin) as ws:
        assert ws is None


@pytest.mark.parametrize("how", ["query_token", "header_token"])
@pytest.mark.parametrize("origin", [None, b"http://elsewhere.example"])
async def test_api_key_client_is_let_in_whatever_its_origin(how, origin, trader, api_key_for):
    # given a program holding an API key: no browser, so no (or any) Origin header
    key = await database_sync_to_async(api_key_for)(trader)
    async with open_stream(**{how.replace("query_", ""): key}, origin=origin) as ws:
        # then it is let in and served
        assert ws is not None
        await ws.send_json_to({"action": "ping"})
        assert (await next_message(ws))["event"] == "pong"


async def test_heartbeat_is_sent_with_its_interval(settings, trader, api_key_for):
    settings.OMS_WS_HEARTBEAT_SECS = 0.05
    key = await database_sync_to_async(api_key_for)(trader)
    async with open_stream(token=key) as ws:
        message = await next_message(ws, skip_heartbeats=False)
        assert message["event"] == "heartbeat"
        assert message["data"]["interval"] == 0.05
        assert message["data"]["ts"].endswith("+00:00")


async def test_logout_closes_the_stream_at_the_next_heartbeat(settings, trader, session_key_for):
    # given a browser stream opened with a session
    settings.OMS_WS_HEARTBEAT_SECS = 0.05
    session_key = await database_sync_to_async(session_key_for)(trader)
    async with open_stream(session_key=session_key) as ws:
        await subscribe(ws, ["orders"])

        # when the user logs out (the session is gone)
        await database_sync_to_async(Session.objects.filter(session_key=session_key).delete)()

        # then the stream is told and closed
        await _assert_rejected_as_unauthenticated(ws)


async def test_revoking_the_key_closes_the_stream_at_the_next_heartbeat(
    settings, trader, api_key_for
):
    settings.OMS_WS_HEARTBEAT_SECS = 0.05
    key = await database_sync_to_async(api_key_for)(trader)
    async with open_stream(token=key) as ws:
        await subscribe(ws, ["orders"])
        await database_sync_to_async(ApiKey.objects.filter(user=trader).update)(
            revoked_at=timezone.now()
        )
        await _assert_rejected_as_unauthenticated(ws)


async def test_losing_access_to_an_account_stops_its_events(settings, trader, account, api_key_for):
    # given the trader subscribed to the account's orders (all, and this one)
    settings.OMS_WS_HEARTBEAT_SECS = 0.05
    key = await database_sync_to_async(api_key_for)(trader)
    async with open_stream(token=key) as ws:
        await subscribe(ws, ["orders", f"orders:{account.pk}", "quotes:ACME"])

        # when the membership is removed
        await database_sync_to_async(
            AccountMembership.objects.filter(user=trader, account=account).delete
        )()

        # then at the next heartbeat the account channel is dropped, with the reason
        message = await next_message(ws)
        assert message == {
            "event": "unsubscribed",
            "data": {"channels": [f"orders:{account.pk}"], "reason": "access_revoked"},
        }
        # and the account's events no longer arrive (a quote published after does)
        await publish_async(
            channel="orders", event="order.updated", data={"n": 1}, account_id=account.pk
        )
        await publish_async(channel="quotes:ACME", event="quote", data={"last": "1"})
        assert (await next_message(ws))["channel"] == "quotes:ACME"


async def test_gaining_access_starts_events_without_resubscribing(settings, trader, api_key_for):
    # given the trader subscribed to orders while a new account does not involve them
    settings.OMS_WS_HEARTBEAT_SECS = 0.05
    other = await database_sync_to_async(UserFactory)(username="owner2")
    new_account = await database_sync_to_async(account_with_member)(user=other)
    key = await database_sync_to_async(api_key_for)(trader)
    async with open_stream(token=key) as ws:
        await subscribe(ws, ["orders", "quotes:ACME"])

        # when they are added to it
        await database_sync_to_async(AccountMembership.objects.create)(
            user=trader, account=new_account, role="view"
        )

        # then, once a heartbeat has re-read access, its events arrive (each round publishes
        # an order of the new account, then a quote as an end marker)
        delivered = []
        for _ in range(100):
            await publish_async(
                channel="orders", event="order.updated", data={"n": 2}, account_id=new_account.pk
            )
            await publish_async(channel="quotes:ACME", event="quote", data={"end": True})
            while (message := await next_message(ws))["channel"] != "quotes:ACME":
                delivered.append(message)
            if delivered:
                break
        first = delivered[0]
        assert (first["channel"], first["event"], first["data"]) == (
            "orders",
            "order.updated",
            {"n": 2},
        )


async def test_forged_message_for_an_invisible_account_is_dropped(trader, account, api_key_for):
    # given the trader listening on their account's group
    other = await database_sync_to_async(UserFactory)(username="stranger")
    foreign = await database_sync_to_async(account_with_member)(user=other)
    key = await database_sync_to_async(api_key_for)(trader)
    async with open_stream(token=key) as ws:
        await subscribe(ws, ["orders"])

        # when a message naming a foreign account lands in the trader's own group
        group = account_group(account_id=str(account.pk), kind="orders")
        await get_channel_layer().group_send(
            group,
            {
                "type": "stream.event",
                "kind": "orders",
                "event": "order.updated",
                "data": {"leak": True},
                "account_id": str(foreign.pk),
                "user_id": None,
                "symbol": None,
                "via": group,
            },
        )
        await publish_async(
            channel="orders", event="order.updated", data={"ok": True}, account_id=account.pk
        )

        # then the per-message check drops it; the genuine event comes through
        assert (await next_message(ws))["data"] == {"ok": True}
        assert await ws.receive_nothing()
