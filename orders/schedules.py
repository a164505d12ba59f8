"""Periodic jobs of the orders app (collected by oms_site/celery.py)."""

BEAT_SCHEDULE = {
    # No order is lost if a worker dies between commit and submit.
    "orders-sweep-pending-new": {
        "task": "orders.sweep_pending_new",
        "schedule": 15.0,
        "options": {"queue": "monitoring"},
    },
    # day orders at their session close, gtd orders at expire_at.
    "orders-expire-due": {
        "task": "orders.expire_due",
        "schedule": 60.0,
        "options": {"queue": "monitoring"},
    },
    # Orders queued outside market hours go out at the open.
    "orders-release-queued-for-open": {
        "task": "orders.release_queued_for_open",
        "schedule": 60.0,
        "options": {"queue": "monitoring"},
    },
    # Execution algorithms: place the slices that are due (idempotent per slice).
    "orders-algos-run-due": {
        "task": "orders.algos_run_due",
        "schedule": 2.0,
        "options": {"queue": "execution"},
    },
    "orders-gtt-expire-due": {
        "task": "orders.gtt_expire_due",
        "schedule": 60.0,
        "options": {"queue": "monitoring"},
    },
    # Intraday positions are closed OMS_SQUARE_OFF_MINUTES_BEFORE_CLOSE before the close
    # (SIM: at OMS_SIM_SQUARE_OFF_UTC); checked every minute, idempotent.
    "orders-square-off-intraday": {
        "task": "orders.square_off_intraday",
        "schedule": 60.0,
        "options": {"queue": "monitoring"},
    },
}
