"""Following a Kite account's order updates: the ticker WebSocket, plus polling.

Wire protocol as `kiteconnect.KiteTicker` speaks it: connect to
`{ticker_url}?api_key=…&access_token=…`; text frames `{"type": "order", "data": {…}}` are
order updates (every order of the account, OMS's or not); binary frames are market ticks and
1-byte heartbeats (ignored: OMS takes prices from its own feeds). A refused handshake (403)
means the session ended.

Why not `KiteTicker` itself: it runs on Twisted's global reactor, which can be started once
per process and never restarted (`ReactorNotRestartable`), installs itself process-wide, and
stops every connection when one ticker stops — a runner that follows several accounts, stops
one, or restarts one after a login (and a test suite) cannot use it sanely. The same frames
are read here with `websockets`' synchronous client, in the caller's thread.

After every (re)connect and every `POLL_EVERY_S` the order book is polled, so an update
lost while disconnected (or a frame dropped mid-order) is still applied; reports are
deterministic, so what the ticker and polling both deliver is applied once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Protocol
from urllib.parse import urlencode

from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.sync.client import connect

from execution.adapters.kite_client import KiteRefusedError, client_of, config_of
from execution.adapters.kite_session import KiteSessionExpiredError, session_expired_record
from execution.protocol import BrokerUnavailableError, TransientBrokerError
from execution.registry import emit_reports


class KiteUpdates(Protocol):
    """What the stream needs of the adapter (`KiteBroker`)."""

    def reports_for(self, *, account_id: str, order: dict[str, Any]) -> list: ...

    def poll_reports(self, *, account_id: str) -> list: ...


logger = logging.getLogger(__name__)
DEFAULT_TICKER_URL = "wss://ws.kite.trade"
POLL_EVERY_S = 60.0
MAX_BACKOFF_S = 30.0
SESSION_RETRY_S = 30.0  # after a refused session: look again for a fresh login


def ticker_socket_url(*, account_id: str) -> str:
    config = config_of(account_id)
    client_of(config)  # raises KiteSessionExpiredError without a usable session
    base = str(config.settings.get("ticker_url") or DEFAULT_TICKER_URL)
    query = urlencode(
        {
            "api_key": config.credentials["api_key"],
            "access_token": config.credentials["access_token"],
        }
    )
    return f"{base}?{query}"


def kite_stream_run(*, adapter: KiteUpdates, account_id: str, stop: threading.Event) -> None:
    """Follow the account's order updates until `stop` is set (reconnecting with backoff)."""
    failures = 0
    while not stop.is_set():
        try:
            url = ticker_socket_url(account_id=account_id)
        except KiteSessionExpiredError:
            stop.wait(SESSION_RETRY_S)  # waits for the daily login
            continue
        try:
            with connect(url, open_timeout=10, close_timeout=1, max_size=2**22) as socket:
                failures = 0
                _poll(adapter, account_id)
                _follow(adapter, account_id, socket, stop)
        except KiteSessionExpiredError:
            # Kite ended the session mid-stream (recorded as session_expired): the updates
            # wait at Kite; after the next login the first poll catches up.
            stop.wait(SESSION_RETRY_S)
            continue
        except InvalidStatus as exc:
            if exc.response.status_code == 403:
                session_expired_record(
                    account_id=account_id, detail="the ticker refused the token."
                )
                stop.wait(SESSION_RETRY_S)
                continue
            failures += 1
            logger.warning("Kite ticker for %s refused: %s", account_id, exc)
        except (ConnectionClosed, WebSocketException, OSError, TimeoutError) as exc:
            failures += 1
            logger.info("Kite ticker for %s dropped: %s", account_id, exc)
        if not stop.is_set():
            stop.wait(min(MAX_BACKOFF_S, 0.2 * 2 ** min(failures, 8)))


def _follow(adapter: KiteUpdates, account_id: str, socket, stop: threading.Event) -> None:
    next_poll = time.monotonic() + POLL_EVERY_S
    while not stop.is_set():
        try:
            frame = socket.recv(timeout=0.5)
        except TimeoutError:
            frame = None
        if isinstance(frame, str):
            _on_text(adapter, account_id, frame)
        if time.monotonic() >= next_poll:
            _poll(adapter, account_id)
            next_poll = time.monotonic() + POLL_EVERY_S


def _on_text(adapter: KiteUpdates, account_id: str, frame: str) -> None:
    try:
        message = json.loads(frame)
    except ValueError:
        logger.warning("Kite ticker for %s sent a frame that is not JSON", account_id)
        return
    if message.get("type") == "order" and isinstance(message.get("data"), dict):
        try:
            emit_reports(adapter.reports_for(account_id=account_id, order=message["data"]))
        except (TransientBrokerError, BrokerUnavailableError, KiteRefusedError) as exc:
            # The trades of a fill could not be read now: the next poll reads them.
            logger.warning("Kite update for %s deferred to the next poll: %s", account_id, exc)
    elif message.get("type") == "error":
        logger.warning("Kite ticker for %s: error %s", account_id, message.get("data"))


def _poll(adapter: KiteUpdates, account_id: str) -> None:
    try:
        emit_reports(adapter.poll_reports(account_id=account_id))
    except (TransientBrokerError, BrokerUnavailableError, KiteRefusedError) as exc:
        logger.warning("Kite poll for %s failed (next poll retries): %s", account_id, exc)
