"""Loopback wire-protocol fakes of real brokers (tests and demos; never a real venue).

`FAKE_SERVERS[kind](port=N)` serves that broker's fake in the foreground
(`python manage.py run_fake_broker <kind> --port N`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _kite(**options: Any) -> None:
    from execution.fakes.kite_server import serve

    serve(**options)


FAKE_SERVERS: dict[str, Callable[..., None]] = {
    "kite": _kite,
}
