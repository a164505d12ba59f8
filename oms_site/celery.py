"""The Celery app: named queues, one per kind of work, routed by task module."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms_site.settings")

app = Celery("oms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [
    Queue(name) for name in ("execution", "marketdata", "monitoring", "notifications")
]
# Tasks declare their queue where they are defined; these routes are the defaults per app.
app.conf.task_routes = {
    "execution.*": {"queue": "execution"},
    "orders.*": {"queue": "execution"},
    "marketdata.*": {"queue": "marketdata"},
    "pnl.*": {"queue": "monitoring"},
    "notifications.*": {"queue": "notifications"},
    "oms_site.*": {"queue": "monitoring"},
}
app.autodiscover_tasks()


@app.task(name="oms_site.ping", queue="monitoring")
def ping() -> str:
    """Used by /healthz to prove a worker consumes the monitoring queue."""
    return "pong"
