"""Serving a fake broker's ASGI app on 127.0.0.1 with uvicorn: in a background thread (tests,
a context manager) or in the foreground (`manage.py run_fake_broker`).

The app may define `async def on_start()` (run on the server's loop before it serves) and
`def release()` (called on the loop when stopping, to wake handlers that wait on purpose —
e.g. a fake told to answer after the client's timeout).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn


class LoopbackServer:
    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_level="warning",
            ws="websockets-sansio",
            ws_ping_interval=None,
            timeout_graceful_shutdown=1,
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        on_start = getattr(self.app, "on_start", None)
        if on_start is not None:
            await on_start()
        await self._server.serve(sockets=[self._sock])

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (uvicorn handles SIGINT/SIGTERM)."""
        asyncio.run(self._main())

    def start(self, *, timeout_s: float = 10.0) -> LoopbackServer:
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._main()), name=f"fake-broker-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"fake broker on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def call_soon(self, fn: Any, *args: Any) -> None:
        """Run `fn(*args)` on the server's loop (thread-safe)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, *args)

    def stop(self) -> None:
        release = getattr(self.app, "release", None)
        if release is not None:
            self.call_soon(release)
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
