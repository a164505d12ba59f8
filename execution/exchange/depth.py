"""Order-book depth of the internal exchange: the shard worker's snapshot in the cache (fast
path), the persisted open orders (fallback and truth), and the live push to `book:<SYMBOL>`.

Depth shows visible quantity only: an iceberg contributes its current slice, never its reserve.

The snapshot is refreshed on every book change (the REST depth is never stale); the push is
throttled per symbol like quotes, by marketdata's throttled publisher: at most one per
`OMS_BOOK_PUSH_INTERVAL` (default 0.1 s → ≤ 10/s per symbol), a burst coalesced to its newest
depth, and the last depth of a burst always delivered (trailing push).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db.models import Count, Sum
from django.utils import timezone

from execution.models import Venue, VenueOrder, VenueOrderStatus
from marketdata.push import ProcessPublisher
from oms_site.api import format_decimal

MAX_DEPTH = 50  # levels per side kept in the snapshot and served by the API
DEPTH_CACHE_PREFIX = "exec:book:"
DEPTH_CACHE_TIMEOUT = 24 * 3600

Level = tuple[Decimal, Decimal, int]  # (price, visible qty, order count)


def depth_cache_key(symbol: str) -> str:
    return DEPTH_CACHE_PREFIX + symbol


def depth_payload(
    *, symbol: str, bids: list[Level], asks: list[Level], ts: datetime
) -> dict[str, Any]:
    """The API.md shape: {"symbol", "bids": [{"price", "qty", "orders"}], "asks", "ts"}."""

    def levels(rows: list[Level]) -> list[dict[str, Any]]:
        return [
            {"price": format_decimal(price), "qty": format_decimal(qty), "orders": count}
            for price, qty, count in rows
        ]

    return {
        "symbol": symbol,
        "bids": levels(bids),
        "asks": levels(asks),
        "ts": ts.isoformat().replace("+00:00", "Z"),
    }


def depth_from_db(*, symbol: str, depth: int) -> dict[str, Any]:
    """Aggregate the persisted open exchange orders (the truth, used when no snapshot)."""
    base = VenueOrder.objects.filter(
        venue=Venue.EXCHANGE, symbol=symbol, status=VenueOrderStatus.OPEN
    )

    def side(name: str, ordering: str) -> list[Level]:
        rows = (
            base.filter(side=name)
            .values("limit_price")
            .annotate(qty=Sum("visible_qty"), orders=Count("order_id"))
            .order_by(ordering)[:depth]
        )
        return [(row["limit_price"], row["qty"], row["orders"]) for row in rows]

    return depth_payload(
        symbol=symbol,
        bids=side("buy", "-limit_price"),
        asks=side("sell", "limit_price"),
        ts=timezone.now(),
    )


def depth_snapshot_store(*, symbol: str, payload: dict[str, Any]) -> None:
    cache.set(depth_cache_key(symbol), payload, timeout=DEPTH_CACHE_TIMEOUT)


def depth_snapshot_get(*, symbol: str) -> dict[str, Any] | None:
    return cache.get(depth_cache_key(symbol))


def depth_snapshot_clear(*, symbol: str) -> None:
    cache.delete(depth_cache_key(symbol))


# --- live push: follows notifications/stream.py's market groups -------------------------
# execution may not import notifications (DESIGN.md), so the envelope is built here in the
# shape `notifications.services.publish` produces and `StreamConsumer.stream_event` checks:
# group `book.<symbol token>`, message {"type": "stream.event", "kind": "book", "symbol",
# "event", "data", "via": <group>}. `_symbol_token` must match `stream.symbol_token`.

_READABLE_SYMBOL = re.compile(r"^[A-Za-z0-9.\-]+$")


def _symbol_token(symbol: str) -> str:
    if _READABLE_SYMBOL.match(symbol):
        return symbol
    return "_" + hashlib.sha256(symbol.encode()).hexdigest()[:40]


def book_group(symbol: str) -> str:
    return f"book.{_symbol_token(symbol)}"


def book_message(symbol: str, payload: dict[str, Any]) -> dict[str, Any]:
    group = book_group(symbol)
    return {
        "type": "stream.event",
        "kind": "book",
        "channel": f"book:{symbol}",
        "event": "book",
        "data": payload,
        "account_id": None,
        "user_id": None,
        "symbol": symbol,
        "via": group,
    }


def book_route(symbol: str, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return book_group(symbol), book_message(symbol, payload)


_book_pushes = ProcessPublisher(
    route=book_route, interval_setting="OMS_BOOK_PUSH_INTERVAL", name="book-push"
)


def depth_publish(*, symbol: str, payload: dict[str, Any]) -> None:
    """Throttled per symbol, the newest depth always delivered last (module docstring).
    Best effort: the DB is the truth and the page re-reads the REST depth on reconnect."""
    if get_channel_layer() is None:
        return
    _book_pushes.get().publish(symbol, payload)


def reset_book_publisher() -> None:
    """Forget this process's book publisher and its throttle state (tests)."""
    _book_pushes.reset()
