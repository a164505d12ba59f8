"""The Celery tasks of orders, where `app.autodiscover_tasks()` looks for them: the core's
(orders/core/tasks.py) and the automation wing's (orders/automation/tasks.py)."""

from __future__ import annotations

from orders.automation.tasks import (
    algo_step_task,
    algos_run_due_task,
    contingent_sync_task,
    gtts_expire_due_task,
    order_reenter_task,
    orders_square_off_intraday_task,
    scheduled_order_run_task,
)
from orders.core.tasks import (
    order_submit_task,
    orders_expire_due_task,
    orders_release_queued_for_open_task,
    orders_sweep_pending_new_task,
)

__all__ = [
    "algo_step_task",
    "algos_run_due_task",
    "contingent_sync_task",
    "gtts_expire_due_task",
    "order_reenter_task",
    "order_submit_task",
    "orders_expire_due_task",
    "orders_release_queued_for_open_task",
    "orders_square_off_intraday_task",
    "orders_sweep_pending_new_task",
    "scheduled_order_run_task",
]
