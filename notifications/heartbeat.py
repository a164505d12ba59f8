"""The live stream's heartbeat: one timer per event loop for every stream, not one per stream.

Every stream gets `{"event": "heartbeat", "data": {"ts", "interval"}}` every
OMS_WS_HEARTBEAT_SECS, and what it may see is re-checked then (logout, a revoked key, lost
access to an account). With a sleeping task per stream, each beat woke its own task, encoded
its own frame and asked the database on its own (or with whoever beat at the same moment):
at 1,000 idle streams that was ~50 database calls a second and a fifth of a core.

Here one wheel per event loop and interval spreads its streams over `SLOTS` slots (a random
one each, so streams opened together do not beat together) and every interval/SLOTS seconds
beats one slot: one encoded frame for all of its streams, then ONE database call re-checking
all of them. A stream's first beat comes half to a whole interval after it joined.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import weakref
from typing import Any, Protocol

from channels.db import database_sync_to_async
from django.utils import timezone

from notifications.stream import StreamAccess
from notifications.ws_auth import stream_access_recheck

logger = logging.getLogger(__name__)

SLOTS = 20


class Beating(Protocol):
    async def beat(self, text: str) -> None:
        """Send the heartbeat frame."""

    def recheck_key(self) -> tuple[dict[str, Any], object]:
        """(the stream's auth, its user id) for the access re-check."""

    async def apply_access(self, access: StreamAccess | None) -> None:
        """What the stream may see now; None: its credentials no longer hold."""


class HeartbeatWheel:
    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.tick = interval / SLOTS
        self.slots: list[dict[Beating, None]] = [{} for _ in range(SLOTS)]  # ordered sets
        self.slot_of: dict[Beating, int] = {}
        self.cursor = 0
        self.task: asyncio.Task | None = None

    def join(self, stream: Beating) -> None:
        slot = (self.cursor + random.randint(SLOTS // 2, SLOTS)) % SLOTS
        self.leave(stream)
        self.slots[slot][stream] = None
        self.slot_of[stream] = slot
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())

    def leave(self, stream: Beating) -> None:
        slot = self.slot_of.pop(stream, None)
        if slot is not None:
            self.slots[slot].pop(stream, None)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        try:
            while self.slot_of:
                due += self.tick
                await asyncio.sleep(max(0.0, due - loop.time()))
                self.cursor = (self.cursor + 1) % SLOTS
                streams = list(self.slots[self.cursor])
                if streams:
                    await self._beat(streams)
        finally:
            self.task = None

    async def _beat(self, streams: list[Beating]) -> None:
        text = json.dumps(
            {
                "event": "heartbeat",
                "data": {"ts": timezone.now().isoformat(), "interval": self.interval},
            }
        )
        for stream in streams:
            await stream.beat(text)
        try:
            results = await database_sync_to_async(stream_access_recheck)(
                checks=[stream.recheck_key() for stream in streams]
            )
        except Exception:  # DB hiccup: the streams keep their last access; reported
            logger.exception("Live stream access re-check failed for %d streams", len(streams))
            return
        for stream, access in zip(streams, results, strict=True):
            if stream not in self.slot_of:
                continue  # closed meanwhile
            try:
                await stream.apply_access(access)
            except Exception:  # one stream's failure must not stop the others' beats
                logger.exception("Live stream access update failed")


_wheels: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[float, HeartbeatWheel]] = (
    weakref.WeakKeyDictionary()
)


def heartbeat_wheel(interval: float) -> HeartbeatWheel:
    """This event loop's wheel for `interval` (a server has one loop; tests one per test)."""
    loop = asyncio.get_running_loop()
    by_interval = _wheels.setdefault(loop, {})
    wheel = by_interval.get(interval)
    if wheel is None:
        wheel = by_interval[interval] = HeartbeatWheel(interval)
    return wheel
