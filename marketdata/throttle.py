"""Pure per-key coalescing throttle (no Django, no clock of its own).

At most one value per key per `min_interval`; values offered in between are coalesced: only
the newest is kept and delivered once the interval has passed (`due`), so a burst never
floods a client yet its final value is never lost.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

_EPSILON = 1e-6  # timers fire a hair early or late; treat "almost due" as due


class CoalescingThrottle:
    def __init__(self, min_interval: float) -> None:
        self.min_interval = min_interval
        self._last_sent: dict[Hashable, float] = {}
        self._pending: dict[Hashable, Any] = {}

    def offer(self, key: Hashable, value: Any, now: float) -> bool:
        """True: send `value` now. False: it is held (replacing any older held value)."""
        last = self._last_sent.get(key)
        if last is None or now - last >= self.min_interval - _EPSILON:
            self._last_sent[key] = now
            self._pending.pop(key, None)  # superseded by this newer value
            return True
        self._pending[key] = value
        return False

    def due(self, now: float) -> list[tuple[Hashable, Any]]:
        """Held values whose key may send again now; they count as sent."""
        ready = [
            key
            for key in self._pending
            if now - self._last_sent.get(key, float("-inf")) >= self.min_interval - _EPSILON
        ]
        out = []
        for key in ready:
            out.append((key, self._pending.pop(key)))
            self._last_sent[key] = now
        return out

    def next_due_in(self, now: float) -> float | None:
        """Seconds until the earliest held value is due; None when nothing is held."""
        if not self._pending:
            return None
        return max(
            0.0,
            min(self._last_sent[key] + self.min_interval - now for key in self._pending),
        )

    def pending_count(self) -> int:
        return len(self._pending)
