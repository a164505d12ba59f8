"""Django's MySQL/MariaDB backend, reusing open connections through a per-process pool.

Under ASGI every request runs its sync code on a thread of its own (Django opens a
ThreadSensitiveContext per request), and Django's connections are per thread, so
persistent connections (CONN_MAX_AGE > 0) are stranded on dead threads, and without them
every request and every Celery task paid for a fresh connection: TCP + authentication,
session set-up and the server-version probe — about a third of a small request's database
time. Here closing a connection hands the open DB-API connection back to a pool, and the
next connection Django opens (any thread) takes it, its session already set up.

Only a clean connection is pooled: not one closed inside an atomic block (that close must
roll back), nor one that saw errors since its last commit/rollback, nor one from another
process. Before a fork the idle pool is closed, so a child never shares a socket with its
parent. A connection idle for a while is pinged before reuse.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

from django.db.backends.mysql import base as mysql_base

IDLE_MAX = int(os.environ.get("DB_POOL_IDLE_MAX", "16"))
PING_AFTER_IDLE_S = 30.0


class ConnectionPool:
    """Idle DB-API connections of one database in this process (LIFO: warmest first)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._idle: list[tuple[Any, float]] = []

    def take(self) -> Any | None:
        while True:
            with self._guard:
                if not self._idle:
                    return None
                connection, idle_since = self._idle.pop()
            if time.monotonic() - idle_since < PING_AFTER_IDLE_S:
                return connection
            try:
                connection.ping()
            except mysql_base.Database.Error:
                _close_quietly(connection)
                continue
            return connection

    def give(self, connection: Any) -> bool:
        with self._guard:
            if len(self._idle) >= IDLE_MAX:
                return False
            self._idle.append((connection, time.monotonic()))
            return True

    def close_idle(self) -> None:
        with self._guard:
            idle, self._idle = self._idle, []
        for connection, _ in idle:
            _close_quietly(connection)


def _close_quietly(connection: Any) -> None:
    with contextlib.suppress(mysql_base.Database.Error):  # already broken: nothing to release
        connection.close()


_pools: dict[tuple[str, str | None], ConnectionPool] = {}
_pools_guard = threading.Lock()


def _pool(alias: str, name: str | None) -> ConnectionPool:
    key = (alias, name)  # the test runner renames NAME to the test database
    pool = _pools.get(key)
    if pool is None:
        with _pools_guard:
            pool = _pools.setdefault(key, ConnectionPool())
    return pool


def close_idle_connections() -> None:
    for pool in list(_pools.values()):
        pool.close_idle()


os.register_at_fork(before=close_idle_connections)


class DatabaseWrapper(mysql_base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = _pool(self.alias, self.settings_dict["NAME"]).take()
        if connection is None:
            connection = super().get_new_connection(conn_params)
            connection.oms_pid = os.getpid()
            connection.oms_session_ready = False
        return connection

    def init_connection_state(self) -> None:
        # The session settings (isolation level, SQL_AUTO_IS_NULL) outlive a trip to the pool.
        if self.connection.oms_session_ready:
            return
        super().init_connection_state()
        self.connection.oms_session_ready = True

    def _close(self) -> None:
        connection = self.connection
        if (
            connection is None
            or self.in_atomic_block
            or self.errors_occurred
            or not self.autocommit
            or getattr(connection, "oms_pid", None) != os.getpid()
        ):
            super()._close()
            return
        if not _pool(self.alias, self.settings_dict["NAME"]).give(connection):
            super()._close()
