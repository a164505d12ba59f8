"""Periodic jobs of the notifications app (collected by oms_site/celery.py)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "notifications-purge-old": {
        "task": "notifications.purge_old",
        "schedule": crontab(hour=3, minute=15),
        "options": {"queue": "notifications"},
    },
    # Due retries (backoff) and deliveries whose task was lost; see notifications/delivery.py.
    "notifications-sweep-deliveries": {
        "task": "notifications.sweep_deliveries",
        "schedule": 10.0,
        "options": {"queue": "notifications", "expires": 10},
    },
}
