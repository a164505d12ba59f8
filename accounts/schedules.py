"""Periodic jobs of the accounts app (collected by oms_site/celery.py)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "accounts-purge-idempotency-keys": {
        "task": "accounts.purge_idempotency_keys",
        "schedule": crontab(minute=45),
        "options": {"queue": "monitoring"},
    },
}
