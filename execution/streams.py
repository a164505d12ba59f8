"""The stream runner: one thread per real-broker account following the broker's order-update
stream (`ConnectedBrokerAdapter.stream_run`), restarted with backoff when it fails.

`python manage.py run_broker_streams` runs it; `make run` starts that process whenever a real
broker adapter is installed (oms_site.run_registry). With no real-broker account it is idle:
one small query every `poll_s` seconds, no log lines. New accounts are picked up at the next
poll; an account that is closed, suspended or deleted has its stream stopped.

Each (re)start of a stream calls `execution.registry.stream_reconnected`, so reconciliation
catches up with what happened while nobody was listening (adapters call it too after their own
reconnects). A stream that raises marks the account `disconnected` (or the state the error
names) and is restarted after 1, 2, 4, … up to `backoff_max_s` seconds; once a restarted
stream has run `healthy_after_s` without failing, the account is `connected` again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from django.db import DatabaseError, close_old_connections, connection

from accounts.models import AccountStatus, TradingAccount
from execution.protocol import ConnectedBrokerAdapter, ConnectionState, PermanentBrokerError
from execution.registry import broker_kinds, stream_reconnected

logger = logging.getLogger(__name__)

DEFAULT_POLL_S = 15.0


def _connected_kinds() -> list[str]:
    from execution.connections import connected_adapter

    return [kind for kind in broker_kinds() if connected_adapter(kind) is not None]


def stream_accounts() -> dict[str, str]:
    """{account id: broker kind} of the active accounts whose broker is a connected one."""
    kinds = _connected_kinds()
    if not kinds:
        return {}
    rows = TradingAccount.objects.filter(
        broker__in=kinds, status=AccountStatus.ACTIVE, connection__isnull=False
    ).values_list("pk", "broker")
    return {str(pk): broker for pk, broker in rows}


def _state_of(exc: BaseException) -> str:
    state = getattr(exc, "state", None)
    if state in ConnectionState.ALL:
        return state
    return (
        ConnectionState.ERROR
        if isinstance(exc, PermanentBrokerError)
        else (ConnectionState.DISCONNECTED)
    )


def _mark(account_id: str, state: str, detail: str) -> None:
    from execution.broker_config import BrokerNotConfiguredError
    from execution.connections import connection_state_set

    try:
        connection_state_set(account_id=account_id, state=state, detail=detail)
    except (BrokerNotConfiguredError, DatabaseError) as exc:  # gone, or the DB is down
        logger.warning("stream %s: could not record %s (%s)", account_id, state, exc)


class AccountStream:
    """Runs one account's stream in a thread until stopped, restarting it with backoff."""

    def __init__(
        self,
        *,
        account_id: str,
        adapter: ConnectedBrokerAdapter,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 60.0,
        healthy_after_s: float = 30.0,
        mark: Callable[[str, str, str], None] = _mark,
    ) -> None:
        self.account_id = account_id
        self.adapter = adapter
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.healthy_after_s = healthy_after_s
        self.stop_event = threading.Event()
        self.failures = 0  # consecutive
        self.starts = 0
        self._mark = mark
        self.thread = threading.Thread(
            target=self._loop, name=f"broker-stream-{account_id[:8]}", daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()

    def backoff_s(self) -> float:
        return min(self.backoff_max_s, self.backoff_base_s * 2 ** max(0, self.failures - 1))

    def _failures_for_max(self) -> int:
        failures = 1
        while self.backoff_base_s * 2 ** (failures - 1) < self.backoff_max_s and failures < 64:
            failures += 1
        return failures

    def _loop(self) -> None:
        try:
            while not self.stop_event.is_set():
                self._run_once()
                if self.failures and self.stop_event.wait(self.backoff_s()):
                    break
        finally:
            close_old_connections()

    def _run_once(self) -> None:
        self.starts += 1
        healthy = None
        if self.failures:
            healthy = threading.Timer(self.healthy_after_s, self._healthy)
            healthy.daemon = True
            healthy.start()
        stream_reconnected(account_id=self.account_id)
        try:
            self.adapter.stream_run(account_id=self.account_id, stop=self.stop_event)
        except Exception as exc:  # noqa: BLE001 - any failure: recorded, logged, restarted
            self.failures += 1
            state = _state_of(exc)
            if state != ConnectionState.DISCONNECTED:
                # Refused for good (credentials, an expired session): only a change by a
                # person helps, so ask again rarely rather than every few seconds.
                self.failures = max(self.failures, self._failures_for_max())
            delay = self.backoff_s()
            logger.warning(
                "stream of account %s failed (%s: %s); restart %d in %.0fs",
                self.account_id,
                type(exc).__name__,
                exc,
                self.failures,
                delay,
            )
            self._mark(
                self.account_id,
                state,
                f"The order-update stream stopped ({exc}); reconnecting in {delay:.0f} s.",
            )
        else:
            if not self.stop_event.is_set():  # returned by itself: start again, gently
                self.failures = max(self.failures, 1)
        finally:
            if healthy is not None:
                healthy.cancel()

    def _healthy(self) -> None:
        if self.stop_event.is_set():
            return
        self.failures = 0
        self._mark(self.account_id, ConnectionState.CONNECTED, "The order-update stream runs.")
        close_old_connections()


class StreamRunner:
    """Keeps one AccountStream per account of `accounts()` (re-read every poll)."""

    def __init__(
        self,
        *,
        poll_s: float = DEFAULT_POLL_S,
        accounts: Callable[[], Mapping[str, str]] = stream_accounts,
        stream_factory: Callable[..., AccountStream] = AccountStream,
    ) -> None:
        self.poll_s = poll_s
        self._accounts = accounts
        self._factory = stream_factory
        self.streams: dict[str, AccountStream] = {}

    def sync(self) -> None:
        from execution.connections import connected_adapter

        wanted = self._accounts()
        for account_id in sorted(set(self.streams) - set(wanted)):
            logger.info("stream of account %s stopped (account gone or inactive)", account_id)
            self.streams.pop(account_id).stop()
        for account_id, broker in sorted(wanted.items()):
            current = self.streams.get(account_id)
            if current is not None and current.thread.is_alive():
                continue
            adapter = connected_adapter(broker)
            if adapter is None:
                continue
            logger.info("stream of account %s (%s) starting", account_id, broker)
            stream = self._factory(account_id=account_id, adapter=adapter)
            self.streams[account_id] = stream
            stream.start()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if not connection.in_atomic_block:  # a caller's transaction (a test) stays open
                close_old_connections()
            try:
                self.sync()
            except DatabaseError as exc:  # the DB went away: try again next poll
                logger.warning("stream runner: database error (%s); retrying", exc)
            stop.wait(self.poll_s)
        self.stop_all()

    def stop_all(self, *, join_s: float = 5.0) -> None:
        for stream in self.streams.values():
            stream.stop()
        for stream in self.streams.values():
            stream.thread.join(timeout=join_s)
        self.streams.clear()


def broker_stream_processes(env: Mapping[str, str]):
    """`make run` starts `run_broker_streams` when a real broker adapter is installed
    (OMS_BROKER_STREAMS=0: never). Without real-broker accounts it idles cheaply."""
    from oms_site.run_registry import manage_py

    enabled = (env.get("OMS_BROKER_STREAMS") or "1").strip().lower() not in ("0", "false", "no")
    if not enabled or not _connected_kinds():
        return []
    return [manage_py("broker-streams", "run_broker_streams")]
