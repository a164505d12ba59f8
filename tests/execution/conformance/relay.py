"""Reports from a broker's stream thread, applied in the TEST thread.

SQLite's shared in-memory test database cannot take writes from two threads at once, so the
stream thread only queues its bursts; `pump(until)` hands them to the sinks that were
registered before (orders' report service) until `until()` holds.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable

from execution import registry


class Relay:
    def __init__(self) -> None:
        self.bursts: queue.Queue = queue.Queue()
        self._sinks = list(registry.REPORT_SINKS.values())
        self._override = registry.REPORT_SINKS.overridden({self.bursts.put: self.bursts.put})
        self._override.__enter__()

    def _apply(self, burst) -> None:
        for sink in self._sinks:
            sink(burst)

    def pump(self, until: Callable[[], object], *, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            assert time.monotonic() < deadline, "timed out waiting for the broker's reports"
            try:
                self._apply(self.bursts.get(timeout=0.05))
            except queue.Empty:
                continue

    def quiet(self, seconds: float = 0.3) -> None:
        """Apply what arrives until nothing did for `seconds` (repeats still on their way)."""
        while True:
            try:
                self._apply(self.bursts.get(timeout=seconds))
            except queue.Empty:
                return

    def close(self) -> None:
        self._override.__exit__(None, None, None)
