"""Waiting in tests for something another thread does."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError

T = TypeVar("T")


def wait_for(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Poll `predicate` until it is truthy; fail the test after `timeout` seconds (a generous
    bound, never an assertion about speed)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def read_while_written(read: Callable[[], T]) -> T | None:
    """`read()`, or None when SQLite's shared in-memory test database refuses it because
    another thread is writing that table right now ("database table is locked"): a poll
    simply tries again. Any other database error is raised."""
    try:
        return read()
    except OperationalError as exc:
        if "is locked" not in str(exc):
            raise
        return None
