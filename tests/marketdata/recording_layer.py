"""A network-like channel layer for tests (not in-memory, so publishers take their loop
thread path) that records what it is sent, on which thread, and when it is closed."""

from __future__ import annotations

import threading
from typing import Any

from channels.layers import BaseChannelLayer


class Recording:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any, str]] = []  # (group, message data, thread name)
        self.closed: list[str] = []  # thread names that closed a layer's pools
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self.sent.clear()
            self.closed.clear()

    def record_send(self, group: str, data: Any) -> None:
        with self._lock:
            self.sent.append((group, data, threading.current_thread().name))

    def record_close(self) -> None:
        with self._lock:
            self.closed.append(threading.current_thread().name)


RECORDING = Recording()
BACKEND = f"{__name__}.RecordingLayer"


class RecordingLayer(BaseChannelLayer):
    extensions = ["groups"]

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        RECORDING.record_send(group, message["data"])

    async def close_pools(self) -> None:
        RECORDING.record_close()
