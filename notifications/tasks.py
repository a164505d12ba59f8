"""Notification tasks (queue `notifications`): thin, each calls one service."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from notifications import delivery, services


@shared_task(name="notifications.purge_old", queue="notifications")
def notifications_purge_old() -> int:
    """Drop notifications older than OMS_NOTIFICATION_RETENTION_DAYS (default 90)."""
    days = int(getattr(settings, "OMS_NOTIFICATION_RETENTION_DAYS", 90))
    return services.notification_purge(older_than=timedelta(days=days))


# The database refusing a write for a moment (MySQL deadlock victim, lock wait timeout, a
# dropped connection) is retried within the broker's visibility timeout; a receiver's
# failure is not: it sets the delivery's next attempt, which the sweeper honours.
DB_RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": 1, "max_retries": 5}


@shared_task(name="notifications.deliver_webhook", queue="notifications", **DB_RETRY)
def deliver_webhook(delivery_id: str) -> str:
    """One signed POST; a transient failure sets the next attempt (swept later)."""
    return delivery.webhook_delivery_send(delivery_id=delivery_id).status


@shared_task(name="notifications.deliver_user_channel", queue="notifications", **DB_RETRY)
def deliver_user_channel(user_id: str, channel: str) -> str:
    """Every pending email (or chat) message of one user, as one message."""
    return delivery.user_channel_flush(user_id=user_id, channel=channel).status


@shared_task(name="notifications.sweep_deliveries", queue="notifications")
def sweep_deliveries() -> int:
    """Enqueue due retries and deliveries whose task was lost."""
    return delivery.deliveries_sweep()
