"""Time helpers for tests of limits counted per calendar minute."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def within_one_minute(*, needed_s: float = 10.0) -> None:
    """Return when at least `needed_s` seconds are left in the current UTC minute (sleeping
    into the next one if fewer are): a test whose requests must fall in ONE per-minute
    window (the order rate limit) then cannot straddle a minute boundary."""
    now = datetime.now(UTC)
    left = 60 - (now.second + now.microsecond / 1_000_000)
    if left < needed_s:
        time.sleep(left + 0.05)
