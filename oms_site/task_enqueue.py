"""Enqueueing a Celery task once the surrounding transaction has committed.

When the broker (Redis) is down at that moment, the data is already committed and true:
an order exists, an exchange command is stored. Raising would turn that truth into an
error for the caller (a 500 for an order that exists, then a second order on the retry),
so a broker failure here is logged loudly instead, and a periodic job that looks at the
database — the pending_new sweeper, the exchange command resend — sends the work later.
Only broker errors are caught: anything else (e.g. an eager task failing in a test)
propagates as before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import kombu.exceptions
import redis.exceptions
from django.db import transaction

logger = logging.getLogger(__name__)

BROKER_ERRORS: tuple[type[BaseException], ...] = (
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def task_named(name: str) -> Any:
    """The Celery task registered as `name` (its `@shared_task(name=...)`).

    Services send their app's tasks by name, so they never import the tasks module that
    imports them (no import cycle within an app). A process that has not imported every
    app's tasks module yet (a web process: Celery's autodiscovery runs in workers) does so
    on the first name it does not know.
    """
    from celery import current_app

    if name not in current_app.tasks:
        # One thread imports them; the others wait for it. Unguarded, the first requests
        # of a fresh web process (each on its own thread) found the tasks modules half
        # imported by another thread: NotRegistered, a 500 for an order already committed.
        with _import_guard:
            if name not in current_app.tasks:
                current_app.loader.import_default_modules()
    return current_app.tasks[name]


_import_guard = threading.Lock()


def enqueue_after_commit(send: Callable[[], object], *, what: str, recovery: str) -> None:
    """Run `send` (a `.delay()`/`.apply_async()` call) on commit; a broker that is down is
    logged with `what` was committed and `recovery` (who sends it later), not raised."""

    def _send() -> None:
        try:
            send()
        except BROKER_ERRORS as exc:
            logger.error(
                "%s is committed but could not be enqueued (broker down: %s); %s",
                what,
                exc,
                recovery,
            )

    transaction.on_commit(_send)
