"""Periodic jobs of pnl (collected by oms_site/celery.py)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Our positions against each venue's; differences become alerts, never overwrites.
    "pnl-reconcile-positions": {
        "task": "pnl.reconcile_all",
        "schedule": 60.0,
        "options": {"queue": "monitoring"},
    },
    # End-of-day PnL at the session close: 23:59 UTC closes SIM's day, and every other
    # built-in session has closed by then (pnl/snapshots.py).
    "pnl-daily-snapshot": {
        "task": "pnl.snapshot_daily",
        "schedule": crontab(hour=23, minute=59),
        "options": {"queue": "monitoring"},
    },
}
