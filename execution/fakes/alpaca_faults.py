"""What the Alpaca fake can be told to get wrong (the control API's POST /_fake/faults)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from execution.fakes.alpaca_state import unprocessable


@dataclass
class Faults:
    """What the fake is told to get wrong. Counts go down as each fault is used.

    kinds: reject (the next `count` orders are refused: 403 {"message"}), status (the next
    `count` /v2 requests whose "METHOD path" starts with `match` answer HTTP `status`; with
    `accept` a POST /v2/orders creates the order first), timeout_after_accept (the next
    `count` new orders — or replaces, with "match": "PATCH" — are accepted, the answer comes
    `delay_s` later), hang (every /v2 request
    waits `delay_s` before it is served, until cleared), duplicate (the next `count` stream
    events are sent twice), out_of_order (the next `count` pairs of events are swapped),
    lose_events (the next `count` stream events are never sent), binary_frames (stream frames
    go as binary JSON, as Alpaca's paper stream sends them).
    """

    reject: list[str] = field(default_factory=list)
    status: list[dict[str, Any]] = field(default_factory=list)
    timeout_after_accept: list[tuple[str, float]] = field(default_factory=list)
    binary_frames: bool = False
    hang_s: float = 0.0
    duplicate: int = 0
    out_of_order: int = 0
    lose_events: int = 0

    def add(self, spec: dict[str, Any]) -> None:
        kind, count = spec.get("kind"), int(spec.get("count", 1))
        if kind == "reject":
            self.reject += [str(spec.get("message") or "insufficient buying power")] * count
        elif kind == "status":
            entry = {
                "status": int(spec.get("status", 500)),
                "match": str(spec.get("match") or ""),
                "accept": bool(spec.get("accept")),
            }
            self.status += [entry] * count
        elif kind == "timeout_after_accept":
            entry = (str(spec.get("match") or "POST"), float(spec.get("delay_s", 30)))
            self.timeout_after_accept += [entry] * count
        elif kind == "binary_frames":
            self.binary_frames = True
        elif kind == "hang":
            self.hang_s = float(spec.get("delay_s", 30))
        elif kind == "duplicate":
            self.duplicate += count
        elif kind == "out_of_order":
            self.out_of_order += count
        elif kind == "lose_events":
            self.lose_events += count
        else:
            raise unprocessable(f"unknown fault kind {kind!r}")

    def late_answer(self, method: str) -> float:
        """How long to hold the answer of an accepted `method` request (0: answer now)."""
        for index, (match, delay) in enumerate(self.timeout_after_accept):
            if match == method:
                del self.timeout_after_accept[index]
                return delay
        return 0.0

    def status_for(self, method: str, path: str) -> dict[str, Any] | None:
        line = f"{method} {path}"
        for index, entry in enumerate(self.status):
            if line.startswith(entry["match"]) or not entry["match"]:
                return self.status.pop(index)
        return None


STATUS_BODIES = {
    429: (42910000, "rate limit exceeded"),
    500: (50010000, "internal server error occurred"),
    502: (50210000, "bad gateway"),
    503: (50310000, "service unavailable"),
    504: (50410000, "gateway timeout"),
}
