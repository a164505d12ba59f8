"""The Celery app: named queues, one per kind of work, routed by task module."""

import os

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms_site.settings")

app = Celery("oms")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each queue on its own direct exchange so a routing key reaches exactly one queue.
app.conf.task_queues = [
    Queue(name, Exchange(name, type="direct"), routing_key=name)
    for name in ("execution", "marketdata", "monitoring", "notifications")
]
# Tasks declare their queue where they are defined; these routes are the defaults per app.
app.conf.task_routes = {
    "execution.*": {"queue": "execution"},
    "orders.*": {"queue": "execution"},
    "marketdata.*": {"queue": "marketdata"},
    "pnl.*": {"queue": "monitoring"},
    "strategies.*": {"queue": "execution"},
    "notifications.*": {"queue": "notifications"},
    "oms_site.*": {"queue": "monitoring"},
}
app.autodiscover_tasks()


def _collect_beat_schedule() -> dict:
    """Each app lists its periodic jobs in `<app>/schedules.py` as BEAT_SCHEDULE."""
    import importlib

    schedule: dict = {}
    for app_name in (
        "accounts",
        "marketdata",
        "execution",
        "orders",
        "pnl",
        "strategies",
        "notifications",
    ):
        try:
            module = importlib.import_module(f"{app_name}.schedules")
        except ModuleNotFoundError as exc:
            if exc.name != f"{app_name}.schedules":
                raise
            continue
        schedule.update(getattr(module, "BEAT_SCHEDULE", {}))
    return schedule


app.conf.beat_schedule = _collect_beat_schedule()


@app.task(name="oms_site.ping", queue="monitoring")
def ping() -> str:
    """Used by /healthz to prove a worker consumes the monitoring queue."""
    return "pong"
