"""Helpers to talk to the real ASGI app's /ws/stream/ in tests."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

from channels.testing import WebsocketCommunicator

from oms_site.asgi import application

RECEIVE_TIMEOUT = 5  # generous: a wait, never an assertion about speed


@asynccontextmanager
async def open_stream(
    *,
    token: str | None = None,
    header_token: str | None = None,
    session_key: str | None = None,
    origin: bytes | None = b"http://testserver",
):
    headers = [(b"host", b"testserver")]
    if origin is not None:
        headers.append((b"origin", origin))
    path = "/ws/stream/"
    if token is not None:
        path += f"?token={token}"
    if header_token is not None:
        headers.append((b"authorization", f"Token {header_token}".encode()))
    if session_key is not None:
        headers.append((b"cookie", f"sessionid={session_key}".encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=RECEIVE_TIMEOUT)
    try:
        yield communicator if connected else None
    finally:
        if connected:
            await communicator.disconnect()


async def next_message(communicator: WebsocketCommunicator, *, skip_heartbeats: bool = True):
    """The next JSON message (heartbeats skipped unless asked for)."""
    while True:
        message = await communicator.receive_json_from(timeout=RECEIVE_TIMEOUT)
        if skip_heartbeats and message.get("event") == "heartbeat":
            continue
        return message


async def subscribe(communicator: WebsocketCommunicator, channels: list[Any]) -> dict:
    await communicator.send_json_to({"action": "subscribe", "channels": channels})
    reply = await next_message(communicator)
    assert reply["event"] == "subscribed", reply
    return reply["data"]


async def unsubscribe(communicator: WebsocketCommunicator, channels: list[str]) -> dict:
    await communicator.send_json_to({"action": "unsubscribe", "channels": channels})
    reply = await next_message(communicator)
    assert reply["event"] == "unsubscribed", reply
    return reply["data"]


async def wait_closed(communicator: WebsocketCommunicator) -> dict:
    """Skip JSON frames until the server closes; returns the close message."""
    while True:
        output = await communicator.receive_output(timeout=RECEIVE_TIMEOUT)
        if output["type"] == "websocket.close":
            return output
