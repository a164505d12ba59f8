"""The heartbeat's access re-check, batched across every live stream of the process.

Each stream re-checks its credentials and visible accounts at every heartbeat. One database
call per stream meant, at 5,000 streams and a 20 s beat, 250 calls a second through the
single thread Channels runs database code on (each opening a connection and running three
queries), holding the GIL against the event loop that delivers pushes. Instead, re-checks
that arrive while one is running wait for it and then go together: one call, a handful of
queries, whatever the number of streams.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from channels.db import database_sync_to_async

from notifications.stream import StreamAccess
from notifications.ws_auth import stream_access_recheck

Check = tuple[dict[str, Any], object]


class AccessRechecker:
    """Coalesces re-checks on one event loop."""

    def __init__(self) -> None:
        self._waiting: list[tuple[Check, asyncio.Future]] = []
        self._running = False

    async def recheck(self, *, auth: dict[str, Any], user_id: object) -> StreamAccess | None:
        """What the stream may see now, or None when its credentials no longer hold."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append(((auth, user_id), future))
        if not self._running:
            self._running = True
            asyncio.get_running_loop().create_task(self._run())
        return await future

    async def _run(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    results = await database_sync_to_async(stream_access_recheck)(
                        checks=[check for check, _ in batch]
                    )
                except Exception as exc:  # noqa: BLE001 - handed to every waiter, which reports it
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), access in zip(batch, results, strict=True):
                    if not future.done():  # a stream that closed meanwhile stopped waiting
                        future.set_result(access)
        finally:
            self._running = False


_rechecker_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AccessRechecker] = (
    weakref.WeakKeyDictionary()
)


def access_rechecker() -> AccessRechecker:
    """This event loop's rechecker (a server has one loop; tests make one per test)."""
    loop = asyncio.get_running_loop()
    rechecker = _rechecker_by_loop.get(loop)
    if rechecker is None:
        rechecker = _rechecker_by_loop[loop] = AccessRechecker()
    return rechecker
