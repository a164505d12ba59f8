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
from collections.abc import Callable

import kombu.exceptions
import redis.exceptions
from django.db import transaction

logger = logging.getLogger(__name__)

BROKER_ERRORS: tuple[type[BaseException], ...] = (
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


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
