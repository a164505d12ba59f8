"""Waiting in tests for something another thread does."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Poll `predicate` until it is truthy; fail the test after `timeout` seconds (a generous
    bound, never an assertion about speed)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)
