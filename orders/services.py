"""The write API of orders. Other apps import from here; the bodies live in the core
(orders/core/) and, for the tick listener, the automation wing (orders/automation/).

    order_place(*, user, api_key=None, actor=None, account_id, symbol, side, order_type, qty,
                limit_price=None, stop_price=None, trail_price=None, trail_percent=None,
                time_in_force="day", expire_at=None, display_qty=None, order_class="simple",
                take_profit=None, stop_loss=None, client_order_id=None, tag="",
                product="delivery", algo=None, reentry=None, links=None)
        -> PlaceResult(order, created)
    order_place_batch(*, user, api_key=None, orders=[kwargs, ...]) -> [(status, order, error)]
    order_preview(*, user, account_id, **same as order_place) -> (decision, context, instrument)
    order_modify(*, user, api_key=None, actor=None, order_id, qty=None, limit_price=None,
                 stop_price=None, trail_price=None, trail_percent=None) -> Order
    order_cancel(*, user, api_key=None, actor=None, order_id, reason="user") -> Order
    order_cancel_all(*, user, api_key=None, actor=None, account_id, symbol=None)
        -> CancelAllResult(canceled, failed)
    order_apply_report(report: ExecutionReport) -> "applied"|"ignored"|"duplicate"|...
    order_release(*, order_id, actor, event_type="released", data=None) -> Order | None
    order_submit(*, order_id, resubmit=False)
    orders_sweep_pending_new(*, now=None) / orders_expire_due(*, now=None) /
    orders_release_queued_for_open(*, now=None)
    triggers_on_tick(tick: AppliedTick) -> [released order ids]
"""

from orders.automation.ticks import triggers_on_tick
from orders.core.batch import order_place_batch, order_preview
from orders.core.cancel import CancelAllResult, order_cancel, order_cancel_all
from orders.core.lifecycle import (
    Actor,
    actor_for,
    actor_system,
    order_record_event,
    order_replay,
    order_transition,
)
from orders.core.modify import order_modify
from orders.core.place import order_place
from orders.core.placement import PlacementLinks, PlaceResult
from orders.core.release import order_release
from orders.core.reports import order_apply_report, order_apply_reports
from orders.core.submit import order_submit
from orders.core.sweeps import (
    orders_expire_due,
    orders_release_queued_for_open,
    orders_sweep_pending_new,
)

__all__ = [
    "Actor",
    "CancelAllResult",
    "PlaceResult",
    "PlacementLinks",
    "actor_for",
    "actor_system",
    "order_apply_report",
    "order_apply_reports",
    "order_cancel",
    "order_cancel_all",
    "order_modify",
    "order_place",
    "order_place_batch",
    "order_preview",
    "order_record_event",
    "order_release",
    "order_replay",
    "order_submit",
    "order_transition",
    "orders_expire_due",
    "orders_release_queued_for_open",
    "orders_sweep_pending_new",
    "triggers_on_tick",
]
