"""An asyncio event loop on its own daemon thread, for driving async code (the Channels
layer) from sync code.

Why a long-lived loop: `async_to_sync(layer.group_send)` starts a fresh event loop for every
call, and the Redis channel layer keeps its connections per loop, so each push paid for a new
loop and a new Redis connection (~3 ms). Running every send on one loop thread reuses both
(~0.3 ms).

Two ways in, one loop:
- `run(coroutine)` waits for the result (errors and a timeout reach the caller), so pushes
  keep their order and a caller that reads the layer next sees the message (notifications).
- `submit(coroutine)` and `call_later(delay, fn)` do not wait: the caller (the tick ingest
  path) never waits for Redis; failures are logged. `stop()` lets submitted work finish,
  runs `on_stop` on the loop (closing its connections), and ends the thread for good.

The loop is per process: Celery's prefork children and uvicorn workers are forked after
import and a thread does not survive a fork, so the thread is started on first use and
again in a child whose pid differs.

Neutral ground (oms_site): notifications and marketdata both use it, and neither may import
the other.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from typing import Any

logger = logging.getLogger(__name__)

RUN_TIMEOUT_S = 5.0  # `run`'s default wait, and the bound on `stop`'s drain
DRAIN_TASKS_TIMEOUT_S = 2.0  # how long `stop` lets submitted coroutines finish
JOIN_TIMEOUT_S = 2.0


class LoopThread:
    """One event loop on one daemon thread named `name`, per process (module docstring)."""

    def __init__(self, *, name: str, on_stop: Callable[[], Awaitable[Any]] | None = None) -> None:
        self.name = name
        self._on_stop = on_stop
        self._guard = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._stopped = False

    def start(self) -> None:
        """Start this process's loop thread now rather than on first use."""
        self._running_loop()

    def run(self, coroutine: Coroutine[Any, Any, Any], *, timeout: float = RUN_TIMEOUT_S) -> Any:
        """Run `coroutine` on the loop and wait for its result; its exception is raised here,
        and TimeoutError (the coroutine cancelled) when it takes longer than `timeout`."""
        if self._on_loop_thread():
            coroutine.close()
            raise RuntimeError(f"{self.name}: run() on its own loop thread would deadlock.")
        future = self._schedule(coroutine)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def submit(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run `coroutine` on the loop without waiting; a failure is logged."""
        self._schedule(coroutine).add_done_callback(self._log_failure)

    def future(self, coroutine: Coroutine[Any, Any, Any]) -> Future[Any]:
        """Run `coroutine` on the loop; → its concurrent Future, which code on another event
        loop awaits without blocking (`await asyncio.wrap_future(...)`)."""
        return self._schedule(coroutine)

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        """Call `fn` on the loop thread after `delay` seconds (it must not block the loop)."""
        loop = self._running_loop()
        loop.call_soon_threadsafe(loop.call_later, delay, fn)

    def stop(self) -> None:
        """Let submitted coroutines finish, run `on_stop` on the loop, stop the thread.
        Final: run/submit/call_later raise RuntimeError afterwards. Timers not yet due are
        dropped."""
        if self._on_loop_thread():
            raise RuntimeError(f"{self.name}: stop() on its own loop thread would deadlock.")
        with self._guard:
            # A forked child's copy points at the parent's loop: nothing of it runs here.
            here = self._pid == os.getpid()
            loop, thread = (self._loop, self._thread) if here else (None, None)
        if loop is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._drain(), loop).result(RUN_TIMEOUT_S)
            except (TimeoutError, OSError, RuntimeError, ConnectionError) as exc:
                logger.warning("%s: draining before stop failed: %r", self.name, exc)
        with self._guard:
            self._stopped = True
            self._loop = self._thread = self._pid = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(JOIN_TIMEOUT_S)
            if not thread.is_alive():
                loop.close()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        pid = os.getpid()
        loop = self._loop
        if loop is not None and self._pid == pid:
            return loop
        with self._guard:
            if self._stopped:
                raise RuntimeError(f"{self.name}: the loop thread is stopped.")
            if self._loop is None or self._pid != pid:
                # First use, or a forked child: the parent's thread did not come along.
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=_serve_forever, args=(loop,), name=self.name, daemon=True
                )
                thread.start()
                self._loop, self._thread, self._pid = loop, thread, pid
            return self._loop

    def _schedule(self, coroutine: Coroutine[Any, Any, Any]) -> Future[Any]:
        try:
            return asyncio.run_coroutine_threadsafe(coroutine, self._running_loop())
        except BaseException:
            coroutine.close()  # never scheduled: no "coroutine was never awaited" warning
            raise

    def _on_loop_thread(self) -> bool:
        return self._thread is threading.current_thread() and self._pid == os.getpid()

    async def _drain(self) -> None:
        pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        if pending:
            await asyncio.wait(pending, timeout=DRAIN_TASKS_TIMEOUT_S)
        if self._on_stop is not None:
            await self._on_stop()

    def _log_failure(self, future: Future[Any]) -> None:
        if future.cancelled():
            logger.warning("%s: a submitted coroutine was cancelled", self.name)
            return
        exc = future.exception()
        if exc is not None:
            logger.error("%s: a submitted coroutine failed: %r", self.name, exc)


def _serve_forever(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    loop.run_forever()
