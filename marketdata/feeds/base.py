"""The feed adapter protocol, the reconnecting runner and the batching sink (no Django
import here; the sink takes the ingest function as an argument)."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

logger = logging.getLogger(__name__)

RawTick = Mapping[str, Any]


class FeedDisconnected(ConnectionError):
    """The adapter lost its connection; the runner reconnects with backoff."""


class FeedExhausted(Exception):
    """A finite source (a replay file) has nothing more to send."""


@runtime_checkable
class FeedAdapter(Protocol):
    name: str

    def connect(self) -> None:
        """Open the connection (raise ConnectionError/OSError to have the runner retry)."""

    def subscribe(self, symbols: Sequence[str]) -> None:
        """Ask for these symbols (called after every (re)connect)."""

    def receive(self, timeout: float) -> list[RawTick]:
        """Ticks available within `timeout` seconds (may be empty). Raise FeedDisconnected
        when the connection drops, FeedExhausted when a finite source is done."""

    def close(self) -> None: ...


@dataclass
class Backoff:
    """Exponential backoff with full jitter, reset after a successful receive."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * (self.factor**self.attempt))
        self.attempt += 1
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


IngestFn = Callable[[list[RawTick]], list[Any]]


class TickSink:
    """Batches raw ticks and hands them to `ingest`; counts what happened to them.

    Flushes when `batch_size` ticks are waiting or the oldest has waited `max_delay`
    seconds, so a busy feed writes in batches and a quiet one stays live.
    """

    def __init__(self, ingest: IngestFn, *, batch_size: int = 500, max_delay: float = 0.05):
        self._ingest = ingest
        self.batch_size = batch_size
        self.max_delay = max_delay
        self._buffer: list[RawTick] = []
        self._oldest: float | None = None
        self.counts: Counter[str] = Counter()

    def add(self, ticks: Sequence[RawTick]) -> None:
        if not ticks:
            return
        if self._oldest is None:
            self._oldest = time.monotonic()
        self._buffer.extend(ticks)
        while len(self._buffer) >= self.batch_size:
            self._ingest_batch()
        if not self._buffer:
            self._oldest = None

    def maybe_flush(self) -> None:
        if self._buffer and time.monotonic() - (self._oldest or 0) >= self.max_delay:
            self.flush()

    def flush(self) -> None:
        while self._buffer:
            self._ingest_batch()
        self._oldest = None

    def _ingest_batch(self) -> None:
        batch = self._buffer[: self.batch_size]
        del self._buffer[: self.batch_size]
        for result in self._ingest(batch):
            self.counts["applied" if result.applied else (result.reason or "dropped")] += 1
        self.counts["received"] += len(batch)


def run_feed(
    adapter: FeedAdapter,
    *,
    symbols: Sequence[str],
    sink: TickSink,
    stop: threading.Event,
    backoff: Backoff | None = None,
    poll: float = 0.05,
    max_ticks: int | None = None,
    on_stats: Callable[[Counter[str]], None] | None = None,
    stats_every: float = 30.0,
    sleep: Callable[[float], None] | None = None,
) -> Counter[str]:
    """Pump `adapter` into `sink` until `stop` is set, the source is exhausted or `max_ticks`
    ticks were received; reconnects with backoff when the connection fails."""
    backoff = backoff or Backoff()
    wait = sleep or stop.wait
    received = 0
    last_stats = time.monotonic()
    connected = False
    try:
        while not stop.is_set():
            if not connected:
                try:
                    adapter.connect()
                    adapter.subscribe(symbols)
                    connected = True
                except (ConnectionError, OSError) as exc:
                    delay = backoff.next_delay()
                    logger.warning(
                        "Feed %s: connect failed (%s); retry in %.1fs", adapter.name, exc, delay
                    )
                    sink.counts["reconnects"] += 1
                    wait(delay)
                    continue
            try:
                ticks = adapter.receive(poll)
            except FeedExhausted:
                break
            except (ConnectionError, OSError) as exc:
                connected = False
                _close_quietly(adapter)
                delay = backoff.next_delay()
                logger.warning(
                    "Feed %s: disconnected (%s); reconnect in %.1fs", adapter.name, exc, delay
                )
                sink.counts["reconnects"] += 1
                wait(delay)
                continue
            if ticks:
                backoff.reset()
                if max_ticks is not None:
                    ticks = ticks[: max_ticks - received]
                received += len(ticks)
                sink.add(ticks)
            sink.maybe_flush()
            if max_ticks is not None and received >= max_ticks:
                break
            if on_stats and time.monotonic() - last_stats >= stats_every:
                on_stats(sink.counts)
                last_stats = time.monotonic()
    finally:
        sink.flush()
        _close_quietly(adapter)
    return sink.counts


def _close_quietly(adapter: FeedAdapter) -> None:
    try:
        adapter.close()
    except (ConnectionError, OSError) as exc:
        logger.warning("Feed %s: close failed: %s", adapter.name, exc)


# --- Registry of adapter factories (outside feeds register theirs from AppConfig.ready) ---

AdapterFactory = Callable[..., FeedAdapter]
_adapters: dict[str, AdapterFactory] = {}


def register_feed_adapter(name: str, factory: AdapterFactory) -> None:
    _adapters[name] = factory


def feed_adapter_factory(name: str) -> AdapterFactory | None:
    return _adapters.get(name)


def feed_adapter_names() -> list[str]:
    return sorted(_adapters)
