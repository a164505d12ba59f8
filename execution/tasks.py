"""Celery tasks of execution: thin, take ids, call one service."""

from __future__ import annotations

import logging

from celery import shared_task

from execution.exchange.shard import ShardLeaseHeld, exchange_command_process, shard_queue

logger = logging.getLogger(__name__)

LEASE_RETRY_COUNTDOWN_S = 1


@shared_task(
    name="execution.exchange_command",
    bind=True,
    acks_late=True,
    max_retries=None,
    ignore_result=True,
)
def exchange_command(self, command_id: str) -> str:
    """Process one exchange command on its shard's single writer (queue exchange.shard.<n>).

    Not the lease holder → retried later (the holder, or this worker once the lease expires,
    takes it). Safe to run twice: a done command is skipped.
    """
    try:
        return exchange_command_process(command_id=command_id)
    except ShardLeaseHeld as exc:
        # Retried on the shard's own queue, so a copy that reached another worker (a stray
        # `.delay()`, a second worker) ends up with the lease holder.
        if self.request.is_eager:
            raise  # inline (tests, no broker): the command stays pending for the resend job
        logger.info("command %s: %s; retrying", command_id, exc)
        raise self.retry(
            exc=exc, countdown=LEASE_RETRY_COUNTDOWN_S, queue=shard_queue(exc.shard)
        ) from exc


@shared_task(name="execution.exchange_commands_resend", ignore_result=True)
def exchange_commands_resend() -> int:
    """Beat: re-enqueue commands still pending after a while (a task lost with Redis)."""
    from execution.exchange.maintenance import pending_commands_resend

    return pending_commands_resend()


@shared_task(name="execution.breaker_report", ignore_result=True)
def breaker_report() -> dict:
    """Beat: log every broker whose circuit breaker is not closed."""
    from execution.selectors import breaker_states

    states = breaker_states()
    for state in states:
        if state["state"] != "closed":
            logger.warning("broker %s circuit breaker is %s", state["broker"], state["state"])
    return {"brokers": states}
