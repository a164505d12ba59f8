"""How the automation wing takes part in the core's order life: it registers into the
core's hooks (orders/core/hooks.py) and the tick listener of marketdata. Called once from
`OrdersConfig.ready()`; every registration is by name, so a second call replaces, never
doubles."""

from __future__ import annotations

from marketdata.listeners import register_tick_listener
from orders.automation.algo_runner import algo_cancel_hook
from orders.automation.changes import after_change
from orders.automation.contingent import oco_release_guard
from orders.automation.placement import ALGO, CONTINGENT, REENTRY
from orders.automation.selectors import order_algo_progress
from orders.automation.ticks import triggers_on_tick
from orders.core import hooks


def register() -> None:
    hooks.register_change_hook("automation", after_change)
    # Registration order is the order the checks run in: classes, then re-entry, then algos.
    for extension in (CONTINGENT, REENTRY, ALGO):
        hooks.register_placement_extension(extension)
    hooks.register_cancel_hook(algo_cancel_hook)
    hooks.register_release_guard("oco", oco_release_guard)
    hooks.register_detail_reader("algo", order_algo_progress)
    register_tick_listener("orders.triggers", triggers_on_tick)
