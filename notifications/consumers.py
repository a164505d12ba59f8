"""The live stream: `/ws/stream/` (API.md "Live updates").

Protocol (JSON text frames):
    client → {"action": "subscribe",   "channels": ["orders", "quotes:ACME", ...]}
           ← {"event": "subscribed", "data": {"channels": [accepted], "rejected": [names]}}
    client → {"action": "unsubscribe", "channels": [...]}
           ← {"event": "unsubscribed", "data": {"channels": [...]}}
    client → {"action": "ping"}        ← {"event": "pong", "data": {"ts": ...}}
    server → {"event": "heartbeat", "data": {"ts": ..., "interval": N}} every N seconds
    server → {"channel": "<name as subscribed>", "event": "order.updated", "data": {...}}
    server → {"event": "error", "data": {"code": ..., "message": ...}} on a bad message
Account and notification pushes also carry `"seq"`, increasing per user (the key of
`GET /api/v1/stream/missed?after=<seq>`); market pushes (quotes, book) are latest-value
snapshots and carry none.
Unauthenticated: accepted, sent an error with code `not_authenticated`, closed with 4401.
Credentials that stop being valid (logout, revoked key) close the stream the same way at
the next heartbeat. Lost access to an account removes its events at the next heartbeat
and sends `unsubscribed` with `"reason": "access_revoked"` for `<kind>:<account_id>` channels.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError
from uvicorn.protocols.utils import ClientDisconnected

from notifications.channel_layer import StreamBehind, group_add_many, group_discard_many
from notifications.heartbeat import HeartbeatWheel, heartbeat_wheel
from notifications.selectors import stream_access_for_user
from notifications.services import STREAM_MESSAGE_TYPE
from notifications.stream import (
    ChannelSpec,
    StreamAccess,
    desired_groups,
    event_visible,
    parse_channel,
    spec_allowed,
)
from oms_site.json_input import json_loads_bounded

logger = logging.getLogger(__name__)

CLOSE_NOT_AUTHENTICATED = 4401
MAX_CHANNELS_PER_CONNECTION = 500
MAX_CHANNELS_PER_MESSAGE = 200
MAX_FRAME_CHARS = 64 * 1024
CLOSE_LAYER_FAILED = 1011  # "internal error": the client reconnects and re-reads state
_TEXTS = "_encoded_pushes"  # where a message keeps its encoded frames (`_push_text`)

Send = Callable[[dict[str, Any]], Awaitable[None]]


def _send_unless_gone(send: Send) -> Send:
    """The server's send, made a no-op once the client has gone: a push or heartbeat racing
    the client's disconnect is moot, and the disconnect event that follows cleans up."""

    async def _send(message: dict[str, Any]) -> None:
        try:
            await send(message)
        except ClientDisconnected:
            logger.debug("Live stream: send after the client left dropped")

    return _send


def _push_text(message: dict[str, Any], name: str, seq: int | None) -> str:
    """The frame for `message` on channel `name`, encoded once per process: the channel
    layer hands one message object to every local stream it is for (a quote to every
    subscriber of its symbol), so the text is kept on it for the next stream."""
    texts = message.get(_TEXTS)
    if texts is None:
        texts = message[_TEXTS] = {}
    text = texts.get((name, seq))
    if text is None:
        push = {"channel": name, "event": message["event"], "data": message["data"]}
        if seq is not None:
            push["seq"] = seq
        text = texts[(name, seq)] = json.dumps(push)
    return text


def heartbeat_interval() -> float:
    return float(getattr(settings, "OMS_WS_HEARTBEAT_SECS", 20))


def _now() -> str:
    return timezone.now().isoformat()


async def _finish(coroutine: Any, waiting_for: Any) -> None:
    """Drive a coroutine that was started by hand (`StreamConsumer._send_now`) to its end,
    as a task would: wait for what it yielded, then resume it."""
    try:
        while True:
            if waiting_for is None:
                await asyncio.sleep(0)  # a bare yield: the next loop iteration
            else:
                await asyncio.wait((waiting_for,))  # done either way; the coroutine reads it
            try:
                waiting_for = coroutine.send(None)
            except StopIteration:
                return
    finally:
        coroutine.close()  # cancelled while waiting: the coroutine ends there too


class StreamConsumer(AsyncJsonWebsocketConsumer):
    async def __call__(self, scope, receive, send) -> None:
        try:
            await self._serve(scope, receive, _send_unless_gone(send))
        except (RedisError, StreamBehind) as exc:
            # The channel layer is gone (Redis down), or this stream fell too far behind to
            # keep every push: one line in the log, a close frame for the client (which
            # reconnects with backoff and catches up: `seq`, the missed endpoint), no traceback.
            logger.warning("Live stream closed: %s", exc)
            self.access = None  # closing: no push may follow the close frame
            await _send_unless_gone(send)({"type": "websocket.close", "code": CLOSE_LAYER_FAILED})
        finally:
            await self._release()

    async def _serve(self, scope, receive, send: Send) -> None:
        """Channels' `AsyncConsumer.__call__`, reshaped for many streams: the client's frames
        and the channel layer's pushes each get ONE long-lived task (Channels' loop made a
        task and an `asyncio.wait` per message per stream), and the pushes waiting for this
        stream are taken and sent in one go."""
        self.scope = scope
        self.base_send = send
        self.state_lock = asyncio.Lock()
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        # The Redis layer reads a server's streams' messages on the server's own loop.
        new_channel = getattr(self.channel_layer, "new_local_channel", None)
        self.channel_name = await (new_channel or self.channel_layer.new_channel)()
        self.inflight: asyncio.Task | None = None  # a direct push that waits for the socket
        tasks = [
            asyncio.ensure_future(self._client_frames(receive)),
            asyncio.ensure_future(self._layer_messages()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # the layer failing (RedisError, StreamBehind) is raised here
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _client_frames(self, receive) -> None:
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            return

    async def _layer_messages(self) -> None:
        layer, channel = self.channel_layer, self.channel_name
        receive_many = getattr(layer, "receive_many", None)
        while True:
            if receive_many is not None:
                messages = await receive_many(channel)
            else:  # the in-memory layer (tests, a bare runserver)
                messages = [await layer.receive(channel)]
            if self.inflight is not None:
                await self.inflight  # a direct push still going out comes first
            # Under the lock: a push never overtakes the reply to the subscribe that asked.
            async with self.state_lock:
                for message in messages:
                    await self.dispatch(message)

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") == STREAM_MESSAGE_TYPE:
            # Pushes never touch the database: skip Channels' per-message
            # close_old_connections, a thread hop per push per connection.
            await self.stream_event(message)
            return
        await super().dispatch(message)

    async def connect(self) -> None:
        self.specs: dict[str, ChannelSpec] = {}
        self.groups_joined: dict[str, frozenset[str]] = {}
        self.access: StreamAccess | None = None
        self.wheel: HeartbeatWheel | None = None
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self._close_unauthenticated()
            return
        self.user_id = user.pk
        self.access = await database_sync_to_async(stream_access_for_user)(user=user)
        self.wheel = heartbeat_wheel(heartbeat_interval())
        self.wheel.join(self)
        take_directly = getattr(self.channel_layer, "take_directly", None)
        if take_directly is not None:
            take_directly(self.channel_name, self._push_now)

    async def disconnect(self, code: int) -> None:
        await self._release()

    async def _release(self) -> None:
        """Stop the heartbeat and leave every group; safe to call more than once."""
        wheel = getattr(self, "wheel", None)
        self.wheel = None
        if wheel is not None:
            wheel.leave(self)
            take_directly = getattr(self.channel_layer, "take_directly", None)
            if take_directly is not None:
                take_directly(self.channel_name, None)
        groups = list(getattr(self, "groups_joined", {}))
        self.groups_joined = {}
        if not groups:
            return
        try:
            await group_discard_many(self.channel_layer, groups, self.channel_name)
        except RedisError as exc:  # a failed layer has forgotten them already
            logger.warning("Live stream could not leave its groups: %s", exc)

    # --- client messages --------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        if self.access is None:
            return  # closing: an unauthenticated socket gets no service
        if text_data is None:
            await self._error("validation_error", "Send JSON text frames.")
            return
        if len(text_data) > MAX_FRAME_CHARS:
            await self._error("validation_error", "Message too large.")
            return
        try:
            content = json_loads_bounded(text_data)
        except ValueError:
            await self._error("validation_error", "Message is not valid JSON.")
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        action = content.get("action") if isinstance(content, dict) else None
        if action == "ping":
            await self.send_json({"event": "pong", "data": {"ts": _now()}})
            return
        if action not in ("subscribe", "unsubscribe"):
            await self._error(
                "validation_error", "Unknown action: use subscribe, unsubscribe or ping."
            )
            return
        channels = content.get("channels")
        if isinstance(channels, str):
            channels = [channels]
        if not isinstance(channels, list) or len(channels) > MAX_CHANNELS_PER_MESSAGE:
            await self._error(
                "validation_error",
                f"`channels` must be a list of at most {MAX_CHANNELS_PER_MESSAGE} names.",
            )
            return
        if action == "subscribe":
            await self._subscribe(channels)
        else:
            await self._unsubscribe(channels)

    async def _subscribe(self, names: list[Any]) -> None:
        accepted: list[str] = []
        rejected: list[Any] = []
        async with self.state_lock:
            for name in dict.fromkeys(n if isinstance(n, str) else repr(n) for n in names):
                spec = parse_channel(name)
                if spec is None or not spec_allowed(spec, self.access):
                    rejected.append(name)  # an invisible account looks like an unknown one
                elif name not in self.specs and len(self.specs) >= MAX_CHANNELS_PER_CONNECTION:
                    rejected.append(name)
                else:
                    self.specs[name] = spec
                    accepted.append(name)
            await self._sync_groups()
            await self.send_json(
                {"event": "subscribed", "data": {"channels": accepted, "rejected": rejected}}
            )

    async def _unsubscribe(self, names: list[Any]) -> None:
        removed: list[str] = []
        async with self.state_lock:
            for name in names:
                if isinstance(name, str) and self.specs.pop(name, None) is not None:
                    removed.append(name)
            await self._sync_groups()
            await self.send_json({"event": "unsubscribed", "data": {"channels": removed}})

    async def _sync_groups(self) -> None:
        """Join/leave groups so membership matches subscriptions × access. Hold state_lock."""
        wanted = desired_groups(self.specs.values(), self.access)
        joined = self.groups_joined.keys()
        to_add = wanted.keys() - joined
        to_drop = joined - wanted.keys()
        # One round trip for all the joins and one for all the leaves, however many accounts
        # a dealer sees: a burst of connections cannot exhaust the layer's Redis pool.
        if to_add:
            await group_add_many(self.channel_layer, to_add, self.channel_name)
        if to_drop:
            await group_discard_many(self.channel_layer, to_drop, self.channel_name)
        self.groups_joined = wanted

    # --- server side ------------------------------------------------------------------

    async def stream_event(self, message: dict[str, Any]) -> None:
        """A published event: forward it on every subscribed channel it is for and allowed on."""
        for text in self._frames(message):
            await self.base_send({"type": "websocket.send", "text": text})

    def _frames(self, message: dict[str, Any]) -> list[str]:
        """The frames `message` makes for this stream: one per subscribed channel it is for
        and allowed on (none while closing)."""
        access = self.access
        if access is None:
            return []
        names = self.groups_joined.get(message.get("via"), ())
        if not names:
            return []
        seq = (message.get("seqs") or {}).get(access.user_id)
        frames = []
        for name in sorted(names) if len(names) > 1 else names:
            spec = self.specs.get(name)
            if spec is not None and event_visible(spec, message, access):
                frames.append(_push_text(message, name, seq))
        return frames

    def _push_now(self, message: dict[str, Any]) -> bool:
        """The hub's direct delivery (stream_hub.Hub.deliver): send `message` now, on the
        hub's loop, or return False to have it queued for `_layer_messages`. Refused while
        closing, while a subscribe holds the state lock (its reply comes first), while an
        earlier push is still waiting for the socket, and for a message that makes several
        frames (the queued path sends those one after another)."""
        if self.access is None or self.inflight is not None or self.state_lock.locked():
            return False
        frames = self._frames(message)
        if len(frames) > 1:
            return False
        if frames:
            self._send_now({"type": "websocket.send", "text": frames[0]})
        return True

    def _send_now(self, event: dict[str, Any]) -> None:
        """Run the server's send up to where it would wait: a writable socket takes the
        frame there and then (no task); a full one (a slow reader) finishes in `inflight`,
        which later pushes wait for, so none overtakes it."""
        sending = self.base_send(event)
        try:
            waiting_for = sending.send(None)
        except StopIteration:
            return
        self.inflight = asyncio.ensure_future(_finish(sending, waiting_for))
        self.inflight.add_done_callback(self._inflight_done)

    def _inflight_done(self, task: asyncio.Task) -> None:
        if self.inflight is task:
            self.inflight = None
        if not task.cancelled() and task.exception() is not None:
            logger.error("Live stream push failed", exc_info=task.exception())

    # --- the heartbeat (notifications/heartbeat.py beats every stream of the process) ----

    async def beat(self, text: str) -> None:
        if self.access is not None:
            await self.base_send({"type": "websocket.send", "text": text})

    def recheck_key(self) -> tuple[dict[str, Any], object]:
        return self.scope.get("oms_auth", {}), self.user_id

    async def apply_access(self, access: StreamAccess | None) -> None:
        """The heartbeat's re-check: close the stream if its credentials no longer hold,
        drop channels of accounts it may no longer see."""
        if self.access is None:
            return  # closing already
        if access is None:
            await self._close_unauthenticated()
            return
        revoked: list[str] = []
        async with self.state_lock:
            self.access = access
            for name, spec in list(self.specs.items()):
                if not spec_allowed(spec, access):
                    del self.specs[name]
                    revoked.append(name)
            await self._sync_groups()
        if revoked:
            await self.send_json(
                {
                    "event": "unsubscribed",
                    "data": {"channels": revoked, "reason": "access_revoked"},
                }
            )

    async def _error(self, code: str, message: str) -> None:
        await self.send_json({"event": "error", "data": {"code": code, "message": message}})

    async def _close_unauthenticated(self) -> None:
        self.access = None
        await self._error("not_authenticated", "Log in or pass ?token=<api key>.")
        await self.close(code=CLOSE_NOT_AUTHENTICATED)
