"""Celery tasks of strategies: take ids, call one service (DESIGN.md)."""

from __future__ import annotations

from celery import shared_task

from strategies import fanout


@shared_task(name="strategies.signal_fan_out", queue="execution")
def signal_fan_out_task(signal_id: str, account_ids: list[str] | None = None) -> int:
    """Place one accepted signal's orders on its accounts, or on a chunk of them (enqueued
    on commit; a large strategy's first task enqueues the chunks)."""
    return len(fanout.signal_fan_out(signal_id=signal_id, account_ids=account_ids))


@shared_task(name="strategies.sweep_accepted", queue="monitoring")
def signals_sweep_accepted_task() -> list[str]:
    return fanout.signals_sweep_accepted()


@shared_task(name="strategies.auto_exit", queue="monitoring")
def strategies_auto_exit_task() -> list[str]:
    from strategies.auto_exit import strategies_auto_exit

    return strategies_auto_exit()


@shared_task(name="strategies.trailing_stop_place", queue="execution")
def trailing_stop_place_task(order_id: str) -> str | None:
    """The default trailing stop of a strategy's filled opening order."""
    from strategies.trailing import trailing_stop_place

    order = trailing_stop_place(order_id=order_id)
    return None if order is None else str(order.pk)
