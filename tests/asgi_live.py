"""The real ASGI application served by uvicorn in a thread of the test process.

Same settings and test database as the test (mark such tests `django_db(transaction=True)`).
`server.loop` is the server's event loop: code that must run where the consumers run (a
publish on the in-memory channel layer, whose queues belong to that loop) goes there with
`server.run(coroutine)`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

START_TIMEOUT_SECS = 10.0
STOP_TIMEOUT_SECS = 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveAsgiServer:
    url: str  # http://127.0.0.1:<port>
    loop: asyncio.AbstractEventLoop

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[len("http") :]

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
        """Run a coroutine on the server's loop from another thread and wait for it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


@contextmanager
def serve_asgi(**config: Any) -> Iterator[LiveAsgiServer]:
    import uvicorn
    from channels.layers import get_channel_layer

    from oms_site.asgi import application

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            application,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=STOP_TIMEOUT_SECS,
            **config,
        )
    )
    loops: list[asyncio.AbstractEventLoop] = []

    async def _serve() -> None:
        loop = asyncio.get_running_loop()
        loops.append(loop)
        try:
            await server.serve()
        finally:
            # The Redis layer reads the server's streams on the server's loop; close that
            # subscription here, on this loop (nothing could close it once the loop ends).
            close_loop = getattr(get_channel_layer(), "close_loop", None)
            if close_loop is not None:
                await close_loop()

    thread = threading.Thread(target=asyncio.run, args=(_serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_SECS
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield LiveAsgiServer(url=f"http://127.0.0.1:{port}", loop=loops[0])
    finally:
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT_SECS + 5)
        assert not thread.is_alive(), "uvicorn did not stop"
