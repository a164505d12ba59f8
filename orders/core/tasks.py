"""Celery tasks of the orders core. Tasks take ids, re-fetch, return quietly on a vanished row and
call one service (DESIGN.md)."""

from __future__ import annotations

from celery import shared_task

from orders.core import submit, submit_burst, sweeps


@shared_task(name="orders.submit", queue="execution")
def order_submit_task(order_id: str, resubmit: bool = False, reason: str = "") -> list[str]:
    """Send one pending_new order to its venue (enqueued on commit by order_place; by the
    sweeper with resubmit=True and the reason, recorded in the audit trail)."""
    return submit.order_submit(order_id=order_id, resubmit=resubmit, reason=reason)


@shared_task(name="orders.submit_drain", queue="execution")
def orders_submit_drain_task(slot: int = 0) -> list[int]:
    """Submit the orders pending for the in-process venues in bursts until none is left
    (sent on commit by the order that takes drainer slot `slot`); returns the burst sizes."""
    return submit_burst.orders_submit_drain(slot=slot)


@shared_task(name="orders.sweep_pending_new", queue="monitoring")
def orders_sweep_pending_new_task() -> list[str]:
    return sweeps.orders_sweep_pending_new()


@shared_task(name="orders.expire_due", queue="monitoring")
def orders_expire_due_task() -> list[str]:
    return sweeps.orders_expire_due()


@shared_task(name="orders.release_queued_for_open", queue="monitoring")
def orders_release_queued_for_open_task() -> list[str]:
    return sweeps.orders_release_queued_for_open()
