"""Periodic jobs of accounts (scheduled in accounts/schedules.py)."""

from __future__ import annotations

from celery import shared_task

from accounts.idempotency import idempotency_purge


@shared_task(name="accounts.purge_idempotency_keys", queue="monitoring")
def purge_idempotency_keys() -> int:
    """Idempotency keys are for retries; a day later they are no longer needed."""
    return idempotency_purge()
