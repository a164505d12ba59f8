"""Periodic jobs of strategies (collected by oms_site/celery.py)."""

BEAT_SCHEDULE = {
    # A signal whose fan-out was never enqueued (broker down) or died half-way is finished.
    "strategies-sweep-accepted": {
        "task": "strategies.sweep_accepted",
        "schedule": 30.0,
        "options": {"queue": "monitoring"},
    },
    # Flatten what a strategy holds at the end of its trading window (auto_exit).
    "strategies-auto-exit": {
        "task": "strategies.auto_exit",
        "schedule": 60.0,
        "options": {"queue": "monitoring"},
    },
}
