"""Celery tasks of pnl (queue `monitoring`). Tasks take ids, re-fetch, return quietly on a
vanished row and call one service (DESIGN.md)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta

from celery import shared_task

from accounts.models import AccountStatus, TradingAccount
from pnl import services

logger = logging.getLogger(__name__)

# A snapshot job scheduled for 23:59 that only runs after midnight still closes the day it
# was scheduled for.
SNAPSHOT_GRACE = time(0, 30)


@shared_task(name="pnl.reconcile_all", queue="monitoring")
def reconcile_all_task() -> int:
    """Fan out one reconciliation per active account."""
    ids = list(
        TradingAccount.objects.filter(status=AccountStatus.ACTIVE)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for account_id in ids:
        reconcile_account_task.delay(str(account_id))
    return len(ids)


@shared_task(name="pnl.reconcile_account", queue="monitoring")
def reconcile_account_task(account_id: str) -> int | None:
    """Differences found (None: account gone or its venue could not be asked)."""
    if not TradingAccount.objects.filter(pk=account_id).exists():
        return None
    try:
        result = services.reconcile_positions(account_id=account_id)
    except Exception as exc:  # noqa: BLE001 - any venue failure: reported, retried next minute
        logger.warning("Reconciliation of account %s could not ask its venue: %r", account_id, exc)
        return None
    return result.differences


def reconcile_after_reconnect(*, account_id: str) -> None:
    """execution.registry resync listener: queue the account's reconciliation now."""
    reconcile_account_task.delay(str(account_id))


def snapshot_day(now: datetime) -> date:
    now = now.astimezone(UTC)
    if now.time() < SNAPSHOT_GRACE:
        return (now - timedelta(days=1)).date()
    return now.date()


@shared_task(name="pnl.snapshot_daily", queue="monitoring")
def snapshot_daily_task() -> int:
    """The end-of-day snapshot of every account with positions; returns rows written."""
    return services.pnl_snapshot_take(day=snapshot_day(datetime.now(UTC))).rows
