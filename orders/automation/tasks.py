"""Celery tasks of the orders automation wing (contingent orders, algos, re-entry, GTT,
end of day, schedules). Tasks take ids, re-fetch, return quietly on a vanished row and call
one service (DESIGN.md)."""

from __future__ import annotations

from celery import shared_task

from orders.automation.algo_runner import algo_step, algos_run_due
from orders.automation.contingent import contingent_sync
from orders.automation.eod import order_reenter, orders_square_off_intraday
from orders.automation.gtt import gtts_expire_due
from orders.automation.scheduled import scheduled_order_run


@shared_task(name="orders.contingent_sync", queue="execution")
def contingent_sync_task(order_id: str) -> list[str]:
    """Bring a bracket / OCO / OTO group in line after one of its orders changed."""
    return contingent_sync(order_id=order_id)


@shared_task(name="orders.algo_step", queue="execution")
def algo_step_task(order_id: str) -> list[str]:
    """Do what is due for one algo parent (place a slice, the next iceberg child, end)."""
    return algo_step(parent_id=order_id)


@shared_task(name="orders.algos_run_due", queue="execution")
def algos_run_due_task() -> list[str]:
    return algos_run_due()


@shared_task(name="orders.reenter", queue="execution")
def order_reenter_task(order_id: str) -> str | None:
    """Place the next attempt of a rejected order that has a re-entry rule."""
    order = order_reenter(order_id=order_id)
    return None if order is None else str(order.pk)


@shared_task(name="orders.gtt_expire_due", queue="monitoring")
def gtts_expire_due_task() -> list[str]:
    return gtts_expire_due()


@shared_task(name="orders.square_off_intraday", queue="monitoring")
def orders_square_off_intraday_task() -> list[str]:
    return orders_square_off_intraday()


@shared_task(name="orders.scheduled_order_run", queue="execution")
def scheduled_order_run_task(schedule_id: str) -> str | None:
    """The beat task of one ScheduledOrder (kwargs {"schedule_id": ...})."""
    order = scheduled_order_run(schedule_id=schedule_id)
    return None if order is None else str(order.pk)
