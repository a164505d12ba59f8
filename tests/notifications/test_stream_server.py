"""/ws/stream/ on a real server (uvicorn, the real ASGI app, the configured channel layer:
Redis when REDIS_URL is set, as in CI's second pass): connections that stay open while idle,
many connections opened at once, who may connect without an Origin header, and a clean log
when clients vanish."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import pytest
from channels.db import database_sync_to_async
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from notifications.services import apublish
from tests.asgi_live import LiveAsgiServer, serve_asgi
from tests.factories import UserFactory, account_with_member

pytestmark = [
    pytest.mark.integration,
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
]

IDLE_SECS = 30
CONNECTIONS_AT_ONCE = 200
USERS = 4
WAIT_SECS = 15  # a wait for something that should come, never a speed assertion


@pytest.fixture
def live_server_asgi(settings) -> Iterator[LiveAsgiServer]:
    # No heartbeat within the idle period: nothing at all crosses an idle connection.
    settings.OMS_WS_HEARTBEAT_SECS = IDLE_SECS * 3
    with serve_asgi() as server:
        yield server


async def _next_event(ws) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), WAIT_SECS))
        if message.get("event") != "heartbeat":
            return message


async def _open_api_key_client(server: LiveAsgiServer, key: str, channels: list[str]):
    ws = await connect(
        f"{server.ws_url}/ws/stream/",
        additional_headers={"Authorization": f"Token {key}"},
        open_timeout=WAIT_SECS,
        ping_interval=None,  # the client sends nothing while idle
    )
    await ws.send(json.dumps({"action": "subscribe", "channels": channels}))
    reply = await _next_event(ws)
    assert reply["event"] == "subscribed" and reply["data"]["rejected"] == [], reply
    return ws


def _publish_order_event(server: LiveAsgiServer, account_id: str, marker: str) -> None:
    # On the server's loop: the in-memory layer's queues belong to it (Redis does not care).
    server.run(
        apublish(
            channel="orders",
            event="order.updated",
            data={"id": marker, "account": account_id},
            account_id=account_id,
        )
    )


async def test_connections_opened_at_once_stay_open_while_idle_and_then_receive(
    live_server_asgi, api_key_for
):
    # given 200 API-key clients (4 users, an account each) connecting at the same moment
    def _users():
        out = []
        for n in range(USERS):
            user = UserFactory(username=f"idle{n}")
            out.append((api_key_for(user), str(account_with_member(user=user).pk)))
        return out

    users = await database_sync_to_async(_users)()
    plan = [users[n % USERS] for n in range(CONNECTIONS_AT_ONCE)]
    clients = await asyncio.gather(
        *(
            _open_api_key_client(live_server_asgi, key, [f"orders:{account_id}"])
            for key, account_id in plan
        )
    )
    try:
        # when they stay idle for 30 s
        await asyncio.sleep(IDLE_SECS)

        # then every one is still open and answers
        assert [ws.close_code for ws in clients].count(None) == CONNECTIONS_AT_ONCE
        for ws in clients:
            await ws.send(json.dumps({"action": "ping"}))
        pongs = await asyncio.gather(*(_next_event(ws) for ws in clients))
        assert {pong["event"] for pong in pongs} == {"pong"}

        # and each receives the event of its account published now
        for _, account_id in users:
            await asyncio.to_thread(_publish_order_event, live_server_asgi, account_id, account_id)
        received = await asyncio.gather(*(_next_event(ws) for ws in clients))
        assert [message["data"]["id"] for message in received] == [aid for _, aid in plan]
        assert {message["channel"].split(":")[0] for message in received} == {"orders"}
        assert {message["seq"] for message in received} == {1}  # each user's first push
    finally:
        await asyncio.gather(*(ws.close() for ws in clients))


@pytest.mark.parametrize("how", ["header", "query"])
async def test_api_key_client_without_origin_header_connects(
    how, live_server_asgi, trader, api_key_for
):
    # given a program (no browser, so no Origin header) holding an API key
    key = await database_sync_to_async(api_key_for)(trader)
    url = f"{live_server_asgi.ws_url}/ws/stream/"
    headers = {}
    if how == "header":
        headers["Authorization"] = f"Token {key}"
    else:
        url += f"?token={key}"

    # when it connects, then it is let in and served
    async with connect(url, additional_headers=headers, open_timeout=WAIT_SECS) as ws:
        await ws.send(json.dumps({"action": "ping"}))
        assert (await _next_event(ws))["event"] == "pong"


@pytest.mark.parametrize("origin", [None, "http://evil.example"])
async def test_session_client_from_a_foreign_or_no_origin_is_refused(
    origin, live_server_asgi, trader, session_key_for
):
    # given a logged-in browser session whose cookie another site (or no site) presents
    session_key = await database_sync_to_async(session_key_for)(trader)
    headers = {"Cookie": f"sessionid={session_key}"}
    if origin is not None:
        headers["Origin"] = origin

    # when it opens the stream, then the handshake is refused
    with pytest.raises(InvalidStatus) as refused:
        await connect(
            f"{live_server_asgi.ws_url}/ws/stream/",
            additional_headers=headers,
            open_timeout=WAIT_SECS,
        )
    assert refused.value.response.status_code == 403


async def test_client_without_key_session_or_origin_is_told_not_authenticated(
    live_server_asgi,
):
    # given a program that offers no credentials at all (and so no Origin either)
    async with connect(f"{live_server_asgi.ws_url}/ws/stream/", open_timeout=WAIT_SECS) as ws:
        # then it is let in only to be told why and closed with 4401 (no cookie to hijack)
        message = await _next_event(ws)
        assert message["event"] == "error"
        assert message["data"]["code"] == "not_authenticated"
        await asyncio.wait_for(ws.wait_closed(), WAIT_SECS)
    assert ws.close_code == 4401


async def test_session_client_from_the_sites_own_origin_connects(
    live_server_asgi, trader, session_key_for
):
    session_key = await database_sync_to_async(session_key_for)(trader)
    headers = {"Cookie": f"sessionid={session_key}", "Origin": live_server_asgi.url}
    async with connect(
        f"{live_server_asgi.ws_url}/ws/stream/", additional_headers=headers, open_timeout=WAIT_SECS
    ) as ws:
        await ws.send(json.dumps({"action": "ping"}))
        assert (await _next_event(ws))["event"] == "pong"


async def test_clients_that_vanish_leave_no_traceback(
    live_server_asgi, trader, caplog, api_key_for
):
    # given clients subscribed to an account's orders and to the heartbeat
    caplog.set_level(logging.WARNING)
    key = await database_sync_to_async(api_key_for)(trader)
    account = await database_sync_to_async(account_with_member)(user=trader)
    clients = [
        await _open_api_key_client(live_server_asgi, key, [f"orders:{account.pk}"])
        for _ in range(10)
    ]

    # when they drop their TCP connections without a close frame, while events are pushed
    for ws in clients:
        ws.transport.abort()
    for n in range(5):
        await asyncio.to_thread(_publish_order_event, live_server_asgi, str(account.pk), str(n))
    await asyncio.sleep(1)
    live_server_asgi.run(asyncio.sleep(0))  # the server's loop has run since

    # then the server logged no error and no traceback
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == [], [r.getMessage() for r in errors]
