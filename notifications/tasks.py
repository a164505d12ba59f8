"""Periodic housekeeping for notifications."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from notifications import services


@shared_task(name="notifications.purge_old", queue="notifications")
def notifications_purge_old() -> int:
    """Drop notifications older than OMS_NOTIFICATION_RETENTION_DAYS (default 90)."""
    days = int(getattr(settings, "OMS_NOTIFICATION_RETENTION_DAYS", 90))
    return services.notification_purge(older_than=timedelta(days=days))
