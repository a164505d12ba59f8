"""Live quote push: every applied tick's quote goes to the Channels group `quotes.<SYMBOL>`.

Message (the notifications consumer's `stream_event` handler forwards it to subscribed
browsers as `{"channel", "event", "data"}`; marketdata may not import notifications, so the
envelope and group naming are mirrored here by contract — see notifications/stream.py):
    {"type": "stream.event", "kind": "quotes", "channel": "quotes:ACME", "symbol": "ACME",
     "event": "quote", "data": {...}, "account_id": None, "user_id": None,
     "via": "quotes.ACME"}

Throttled per symbol to `OMS_QUOTE_PUSH_INTERVAL` (default 0.1 s → ≤ 10 updates/s per
client): a burst is coalesced to its newest quote and the final quote of a burst is always
delivered. The throttle state lives in each ingesting process (a feed process and every web
process pushing ticks each throttle on their own), which bounds the rate per process; the
browser code coalesces again per animation frame.

With a Redis channel layer the sends run on a background event loop thread per publisher and
process (`oms_site.loop_thread.LoopThread`, fire-and-forget), so the ingest path never waits
for Redis. With the in-memory layer (tests, bare `manage.py` without REDIS_URL) they run
inline through `async_to_sync` in the caller's thread, unthrottled (see `_build_publisher`).

The mechanism is not about quotes: `ThrottledPublisher` takes a `route` (key, data) →
(group, message) and `ProcessPublisher` keeps one per process, so other market channels
(the internal exchange's `book:<SYMBOL>` depth, execution/exchange/depth.py) reuse it with
their own route and interval setting.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import InMemoryChannelLayer, channel_layers, get_channel_layer
from django.conf import settings

from marketdata.throttle import CoalescingThrottle
from oms_site.loop_thread import LoopThread

logger = logging.getLogger(__name__)

# Same rule as notifications.stream.symbol_token: readable symbols keep their name, anything
# else (M&M, spaces, unicode) becomes "_" + a hash, so names stay valid and collision-free.
_READABLE_SYMBOL = re.compile(r"^[A-Za-z0-9.\-]+$")


def quotes_group(symbol: str) -> str:
    """Channels group of a symbol's quotes: `quotes.<symbol token>`."""
    if _READABLE_SYMBOL.match(symbol):
        return f"quotes.{symbol}"
    return "quotes._" + hashlib.sha256(symbol.encode()).hexdigest()[:40]


def quote_message(symbol: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "stream.event",
        "kind": "quotes",
        "channel": f"quotes:{symbol}",
        "symbol": symbol,
        "event": "quote",
        "data": data,
        "account_id": None,
        "user_id": None,
        "via": quotes_group(symbol),
    }


def quote_route(symbol: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return quotes_group(symbol), quote_message(symbol, data)


Sender = Callable[[str, dict[str, Any]], None]
# (symbol, data) → (Channels group, stream message)
Route = Callable[[str, dict[str, Any]], tuple[str, dict[str, Any]]]


class ThrottledPublisher:
    """Throttles per symbol and hands messages to `send(group, message)`; `route` says which
    group and message a symbol's data becomes (quotes unless told otherwise).

    `clock` and `schedule(delay, fn)` are injectable for tests.
    """

    def __init__(
        self,
        *,
        send: Sender,
        min_interval: float,
        schedule: Callable[[float, Callable[[], None]], None],
        clock: Callable[[], float] = time.monotonic,
        route: Route = quote_route,
    ) -> None:
        self._send = send
        self._route = route
        self.min_interval = min_interval
        self._schedule = schedule
        self._clock = clock
        self._throttle = CoalescingThrottle(min_interval)
        self._lock = threading.Lock()
        self._flush_scheduled = False
        self.sent = 0
        self.coalesced = 0

    def publish(self, symbol: str, data: dict[str, Any]) -> None:
        with self._lock:
            send_now = self._throttle.offer(symbol, data, self._clock())
            if not send_now:
                self.coalesced += 1
                self._ensure_flush_locked()
        if send_now:
            self._deliver(symbol, data)

    def flush(self) -> None:
        """Deliver held quotes that are due; reschedule for the rest."""
        with self._lock:
            self._flush_scheduled = False
            ready = self._throttle.due(self._clock())
            self._ensure_flush_locked()
        for symbol, data in ready:
            self._deliver(symbol, data)

    def _ensure_flush_locked(self) -> None:
        delay = self._throttle.next_due_in(self._clock())
        if delay is not None and not self._flush_scheduled:
            self._flush_scheduled = True
            self._schedule(delay, self.flush)

    def _deliver(self, symbol: str, data: dict[str, Any]) -> None:
        self.sent += 1
        try:
            self._send(*self._route(symbol, data))
        except Exception:
            logger.exception("Live push for %s failed", symbol)


QuotePublisher = ThrottledPublisher  # the quotes' publisher (its default route)


def _inline_send(group: str, message: dict[str, Any]) -> None:
    async_to_sync(get_channel_layer().group_send)(group, message)


class _TimerScheduler:
    """Trailing flushes on timer threads (in-memory layer only); `stop` cancels them."""

    def __init__(self) -> None:
        self._timers: set[threading.Timer] = set()
        self._lock = threading.Lock()

    def schedule(self, delay: float, fn: Callable[[], None]) -> None:
        def run() -> None:
            with self._lock:
                self._timers.discard(timer)
            fn()

        timer = threading.Timer(delay, run)
        timer.daemon = True
        with self._lock:
            self._timers.add(timer)
        timer.start()

    def stop(self) -> None:
        with self._lock:
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()


def _build_publisher(*, route: Route, interval_setting: str, name: str) -> ThrottledPublisher:
    interval = getattr(settings, interval_setting)  # seconds (settings.py, env.float)
    if isinstance(get_channel_layer(), InMemoryChannelLayer):
        # The in-memory layer's queues belong to the consumers' event loop. A trailing flush
        # from a timer thread would put into them from a foreign loop and need not wake the
        # receiver, losing the final message of a burst. This layer only serves tests and a
        # bare single-process runserver, so every message goes out inline, unthrottled.
        timers = _TimerScheduler()
        publisher = ThrottledPublisher(
            send=_inline_send, min_interval=0.0, schedule=timers.schedule, route=route
        )
        publisher.stop = timers.stop  # type: ignore[attr-defined]
        return publisher
    # A layer instance of its own, so its Redis connections belong to this loop alone (the
    # shared `get_channel_layer()` object is used from other loops by consumers and tests);
    # stopping the loop closes them.
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    loop_thread = LoopThread(name=name, on_stop=getattr(layer, "close_pools", None))
    loop_thread.start()

    def send(group: str, message: dict[str, Any]) -> None:
        loop_thread.submit(layer.group_send(group, message))

    # Trailing flushes run on the loop thread: a flush only submits sends, never waits.
    publisher = ThrottledPublisher(
        send=send, min_interval=interval, schedule=loop_thread.call_later, route=route
    )
    publisher.stop = loop_thread.stop  # type: ignore[attr-defined]
    return publisher


class ProcessPublisher:
    """This process's throttled publisher of one kind of message, built on first use from
    the channel layer and `interval_setting` (seconds, default 0.1), and again after a fork:
    threads do not survive one."""

    def __init__(self, *, route: Route, interval_setting: str, name: str) -> None:
        self._route = route
        self._interval_setting = interval_setting
        self._name = name
        self._publisher: ThrottledPublisher | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def get(self) -> ThrottledPublisher:
        with self._lock:
            if self._publisher is None or self._pid != os.getpid():
                self._publisher = _build_publisher(
                    route=self._route, interval_setting=self._interval_setting, name=self._name
                )
                self._pid = os.getpid()
            return self._publisher

    def reset(self) -> None:
        """Forget the publisher and its throttle state (tests; settings changes)."""
        with self._lock:
            stop = getattr(self._publisher, "stop", None)
            if stop is not None and self._pid == os.getpid():
                stop()
            self._publisher = None
            self._pid = None


_quotes = ProcessPublisher(
    route=quote_route, interval_setting="OMS_QUOTE_PUSH_INTERVAL", name="quote-push"
)


def quote_publisher() -> ThrottledPublisher:
    """This process's quote publisher."""
    return _quotes.get()


def reset_quote_publisher() -> None:
    """Forget the quote publisher and its throttle state (tests; settings changes)."""
    _quotes.reset()
