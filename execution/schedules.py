"""Periodic jobs of execution (collected by oms_site/celery.py).

The shard lease heartbeat is not here: it runs inside each shard worker (exchange/worker.py),
so it stops exactly when the worker does.
"""

BEAT_SCHEDULE = {
    "execution-exchange-commands-resend": {
        "task": "execution.exchange_commands_resend",
        "schedule": 30.0,
        "options": {"queue": "execution", "expires": 25},
    },
    "execution-breaker-report": {
        "task": "execution.breaker_report",
        "schedule": 60.0,
        "options": {"queue": "monitoring", "expires": 55},
    },
}
