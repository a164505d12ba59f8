"""One long-lived event loop per process for sending live pushes from sync code.

`async_to_sync(layer.group_send)` starts a fresh event loop for every call, and
channels-redis keeps its connection pools per loop, so each push paid for a new loop and a
new Redis connection (~3 ms). Running every send on one loop thread reuses both (~0.3 ms).
The caller still waits for the send to finish, so pushes keep their order and a caller
(or a test) that reads the layer next sees the message.

The loop is per process: Celery's prefork children and uvicorn workers are forked after
import, so the thread is started lazily and again in a child whose pid differs.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any

SEND_TIMEOUT_S = 5.0


class PushLoop:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        pid = os.getpid()
        if self._loop is not None and self._pid == pid:
            return self._loop
        with self._guard:
            if self._loop is None or self._pid != pid:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="oms-push", daemon=True)
                thread.start()
                self._loop, self._pid = loop, pid
        return self._loop

    def run(self, coroutine: Coroutine[Any, Any, Any], *, timeout: float = SEND_TIMEOUT_S) -> Any:
        """Run `coroutine` on the process's push loop and wait for its result."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self._running_loop())
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise


push_loop = PushLoop()
