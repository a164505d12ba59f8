"""Execution algorithms (TWAP, VWAP, iceberg): a parent order releasing child orders.

The parent is accepted (status `new`) and never goes to a venue; its `algo` JSON holds the
parameters and the schedule (orders/automation/algos.py, planned by
orders/automation/algo_schedule.py), `algo_state` running/paused/done/stopped and
`algo_next_at` when it next needs attention. Children are ordinary orders (placed through
`order_place`, so every risk check runs) with `parent` = the algo and `leg_role` = slice;
their fills add up on the parent (orders/automation/changes.py), which becomes partially filled /
filled like any order.

Steps run on Celery: after placement, after each child fill or close, and from the beat
job `orders.algos_run_due` every few seconds for parents whose `algo_next_at` is due.
A step is idempotent: slice *i* is placed under the client_order_id
`algo-<parent>-<i>-<generation>` (the generation counts resumes; iceberg child *k*:
`ice-<parent>-<k>`), so a step running twice, or two steps at once, place it once.
The parent row is locked only for short bookkeeping, never while a child
is placed (lock order everywhere: child → account → parent).
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import ApiKey, User
from oms_site.errors import ApplicationError, Conflict, InvalidState, RiskRejected
from oms_site.locks import lock_one, lock_one_or_none
from orders.automation import algos
from orders.automation.algo_schedule import (
    algo_ends_at,
    slice_due_at,
    slices_due_count,
)
from orders.core import jobs
from orders.core.cancel import order_cancel
from orders.core.hooks import CancelHook
from orders.core.lifecycle import (
    Actor,
    actor_for,
    actor_system,
    order_record_event,
    order_transition,
    weighted_average,
)
from orders.core.place import order_place
from orders.core.placement import PlacementLinks
from orders.core.publish import order_publish
from orders.core.selectors import order_get_for_user
from orders.models import (
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    AlgoState,
    LegRole,
    Order,
    OrderEventType,
    OrderSide,
    OrderStatus,
    OrderType,
)

logger = logging.getLogger(__name__)

ALGO_ACTOR = actor_system("algo")
ZERO = Decimal("0")
VWAP_LOOKBACK_DAYS = 5


# --- child fills -------------------------------------------------------------------------------


def algo_child_filled(*, child: Order, qty: Decimal, price: Decimal) -> None:
    """A child's fill counts on its parent (inside the child's fill transaction)."""
    parent = lock_one_or_none(Order.objects, pk=child.parent_id)
    if parent is None or not parent.algo:
        return
    parent.filled_qty += qty
    parent.filled_notional += qty * price
    parent.avg_fill_price = weighted_average(parent.filled_notional, parent.filled_qty)
    fields = ["filled_qty", "filled_notional", "avg_fill_price"]
    data = {
        "fill_qty": qty,
        "fill_price": price,
        "child_order_id": str(child.pk),
        "filled_qty": parent.filled_qty,
        "avg_fill_price": parent.avg_fill_price,
    }
    if parent.status in TERMINAL_STATUSES:
        order_record_event(
            order=parent,
            event_type=OrderEventType.LATE_FILL,
            actor=ALGO_ACTOR,
            data={**data, "status": parent.status},
            update_fields=fields,
        )
    else:
        done = parent.filled_qty >= parent.qty
        if done:
            parent.algo_state = AlgoState.DONE
            parent.algo_next_at = None
            fields += ["algo_state", "algo_next_at"]
        order_transition(
            order=parent,
            to_status=OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED,
            event_type=OrderEventType.FILL if done else OrderEventType.PARTIAL_FILL,
            actor=ALGO_ACTOR,
            data=data,
            update_fields=fields,
        )
    order_publish(parent)


# --- steps ---------------------------------------------------------------------------------------


def enqueue_algo_step(parent_id: object) -> None:
    parent_id = str(parent_id)
    jobs.enqueue(
        "orders.algo_step",
        parent_id,
        what=f"a step of algo order {parent_id}",
        recovery="the algos_run_due job runs it when due",
    )


def algos_run_due(*, now: datetime | None = None, limit: int = 500) -> list[str]:
    """The beat job: a step for every running algo whose next moment has come."""
    now = now or timezone.now()
    due = list(
        Order.objects.filter(algo_state=AlgoState.RUNNING, algo_next_at__lte=now)
        .order_by("algo_next_at")
        .values_list("id", flat=True)[:limit]
    )
    stepped = []
    for parent_id in due:
        try:
            algo_step(parent_id=parent_id, now=now)
        except Exception:
            logger.exception("Algo step of order %s failed", parent_id)
            continue
        stepped.append(str(parent_id))
    return stepped


def algo_step(*, parent_id: object, now: datetime | None = None) -> list[str]:
    """Do what is due for one algo parent; returns the ids of children placed."""
    now = now or timezone.now()
    parent = Order.objects.filter(pk=parent_id).first()
    if parent is None or not parent.algo or parent.algo_state != AlgoState.RUNNING:
        return []
    if parent.status in TERMINAL_STATUSES:
        _set_state(parent.pk, state=AlgoState.DONE, next_at=None)
        return []
    children = list(Order.objects.filter(parent=parent, leg_role=LegRole.SLICE))
    rejected = [c for c in children if c.status == OrderStatus.REJECTED]
    if rejected:
        _stop(parent.pk, reason=f"child order rejected: {rejected[0].reject_reason or 'rejected'}")
        return []
    if parent.algo["type"] == "iceberg":
        return _iceberg_step(parent, children)
    return _timed_step(parent, children, now)


def _child_kwargs(parent: Order, qty: Decimal, key: str) -> dict[str, Any]:
    limit = parent.algo.get("child_limit_price")
    commitment = ZERO
    if parent.side == OrderSide.BUY:
        commitment = (parent.qty - parent.filled_qty) * (parent.est_price or ZERO)
    return {
        "user": None,
        "actor": ALGO_ACTOR,
        "account_id": parent.account_id,
        "symbol": parent.symbol,
        "side": parent.side,
        "order_type": OrderType.LIMIT if limit else OrderType.MARKET,
        "qty": qty,
        "limit_price": Decimal(limit) if limit else None,
        "time_in_force": parent.time_in_force,
        "client_order_id": key,
        "tag": parent.tag,
        "product": parent.product,
        "links": PlacementLinks(
            parent_id=parent.pk,
            leg_role=LegRole.SLICE,
            counting_checks=False,
            risk_exclude_ids=(parent.pk,),
            own_commitment=commitment,
        ),
    }


def _place_child(parent: Order, qty: Decimal, key: str) -> Order | None:
    try:
        return order_place(**_child_kwargs(parent, qty, key)).order
    except RiskRejected as exc:
        # Stored as rejected; its close enqueues the step that stops the algo.
        return Order.objects.filter(pk=exc.extra.get("order_id")).first()
    except Conflict:
        # Another step placed this slice already (with a quantity computed a moment earlier).
        return None
    except ApplicationError as exc:
        _stop(parent.pk, reason=f"child order refused: {exc.message}")
        return None


def _iceberg_step(parent: Order, children: list[Order]) -> list[str]:
    if any(c.status in OPEN_STATUSES for c in children):
        return []  # the visible child is still working
    qty = algos.iceberg_next_qty(
        qty=parent.qty,
        display_qty=Decimal(parent.algo["display_qty"]),
        allotted=parent.filled_qty,
    )
    if qty <= 0:
        return []
    child = _place_child(parent, qty, f"ice-{parent.pk}-{len(children)}")
    if child is None:
        return []
    _after_slice(parent.pk, sent=len(children) + 1, next_at=None, child=child)
    return [str(child.pk)]


def _cancel_children(parent_id: object, *, reason: str, only_limit: bool = False) -> list[str]:
    canceled = []
    qs = Order.objects.filter(
        parent_id=parent_id, leg_role=LegRole.SLICE, status__in=OPEN_STATUSES
    ).exclude(status=OrderStatus.PENDING_CANCEL)
    if only_limit:
        qs = qs.filter(type=OrderType.LIMIT)
    for child_id in qs.values_list("id", flat=True):
        try:
            order_cancel(user=None, actor=ALGO_ACTOR, order_id=child_id, reason=reason)
        except ApplicationError as exc:  # filled meanwhile / venue down: next step retries
            logger.warning("Could not cancel child %s of algo %s: %s", child_id, parent_id, exc)
            continue
        canceled.append(str(child_id))
    return canceled


def _timed_step(parent: Order, children: list[Order], now: datetime) -> list[str]:
    algo = parent.algo
    n = algo["slices_total"]
    due = slices_due_count(algo, now)
    ends = algo_ends_at(algo)
    sent = algo.get("sent", 0)
    if sent >= n and ends is not None and now >= ends:
        # The horizon is over: what still works is withdrawn and the algo ends.
        _cancel_children(parent.pk, reason="algo_ended")
        _finish(parent.pk)
        return []
    placed: list[str] = []
    if due > sent:
        # A new slice is due: a limit child still resting from an earlier slice is
        # withdrawn and its rest goes into this one (catch-up).
        _cancel_children(parent.pk, reason="algo_reslice", only_limit=True)
        parent.refresh_from_db()
        sizes = [Decimal(s) for s in algo["slices"]]
        target = sum(sizes[:due], ZERO)
        working = sum(
            (
                c.qty - c.filled_qty
                for c in Order.objects.filter(
                    parent=parent, leg_role=LegRole.SLICE, status__in=OPEN_STATUSES
                )
            ),
            ZERO,
        )
        lot = parent.instrument.lot_size
        qty = target - parent.filled_qty - working
        qty = (qty // lot) * lot if qty > 0 else ZERO
        child = None
        if qty > 0:
            key = f"algo-{parent.pk}-{due - 1}-{algo.get('gen', 0)}"
            child = _place_child(parent, qty, key)
            if child is not None:
                placed.append(str(child.pk))
        next_at = slice_due_at(algo, due) if due < n else ends
        _after_slice(parent.pk, sent=due, next_at=next_at, child=child)
    return placed


# --- bookkeeping on the parent (short transactions, parent row only) ------------------------


@transaction.atomic
def _after_slice(parent_id: object, *, sent: int, next_at: datetime | None, child: Order | None):
    parent = lock_one(Order.objects, pk=parent_id)
    if parent.algo_state != AlgoState.RUNNING:
        return
    algo = dict(parent.algo)
    algo["sent"] = max(sent, algo.get("sent", 0))
    parent.algo = algo
    parent.algo_next_at = next_at
    if parent.status in TERMINAL_STATUSES:
        parent.save(update_fields=["algo", "algo_next_at"])
        return
    if child is not None:
        order_record_event(
            order=parent,
            event_type=OrderEventType.SLICE_PLACED,
            actor=ALGO_ACTOR,
            data={
                "child_order_id": str(child.pk),
                "qty": child.qty,
                "slice": algo["sent"],
                "status": child.status,
            },
            update_fields=["algo", "algo_next_at"],
        )
    else:
        parent.save(update_fields=["algo", "algo_next_at"])
    order_publish(parent)


@transaction.atomic
def _set_state(parent_id: object, *, state: str, next_at: datetime | None) -> None:
    Order.objects.filter(pk=parent_id).update(algo_state=state, algo_next_at=next_at)


@transaction.atomic
def _finish(parent_id: object) -> None:
    """The horizon is over: a parent not filled by now is cancelled for the rest."""
    parent = lock_one(Order.objects, pk=parent_id)
    parent.algo_state = AlgoState.DONE
    parent.algo_next_at = None
    if parent.status in TERMINAL_STATUSES:
        parent.save(update_fields=["algo_state", "algo_next_at"])
        return
    parent.cancel_reason = "algo_ended"
    order_transition(
        order=parent,
        to_status=OrderStatus.CANCELED,
        event_type=OrderEventType.CANCELED,
        actor=ALGO_ACTOR,
        data={"reason": "algo_ended", "unfilled": parent.qty - parent.filled_qty},
        update_fields=["algo_state", "algo_next_at", "cancel_reason"],
    )
    order_publish(parent)


def _stop(parent_id: object, *, reason: str) -> None:
    with transaction.atomic():
        parent = lock_one(Order.objects, pk=parent_id)
        if parent.algo_state in (AlgoState.STOPPED, AlgoState.DONE):
            return
        parent.algo = {**parent.algo, "reason": reason[:300]}
        parent.algo_state = AlgoState.STOPPED
        parent.algo_next_at = None
        fields = ["algo", "algo_state", "algo_next_at"]
        if parent.status in TERMINAL_STATUSES:
            parent.save(update_fields=fields)
            return
        parent.cancel_reason = "algo_stopped"
        order_transition(
            order=parent,
            to_status=OrderStatus.CANCELED,
            event_type=OrderEventType.CANCELED,
            actor=ALGO_ACTOR,
            data={"reason": reason},
            update_fields=[*fields, "cancel_reason"],
        )
        order_publish(parent)
    _cancel_children(parent_id, reason="algo_stopped")


# --- pause / resume / cancel -------------------------------------------------------------------


def _parent_for_user(user: User | None, order_id: object) -> None:
    if user is not None:
        order_get_for_user(user=user, order_id=order_id, level="trade")


def algo_pause(
    *,
    user: User | None,
    api_key: ApiKey | None = None,
    order_id: object,
    actor: Actor | None = None,
) -> Order:
    """Stop releasing children and withdraw the working ones; the rest waits for resume.
    409 invalid_state unless the algo is running."""
    _parent_for_user(user, order_id)
    actor = actor or actor_for(user=user, api_key=api_key)
    with transaction.atomic():
        parent = lock_one(Order.objects, pk=order_id)
        if not parent.algo:
            raise InvalidState("This order has no execution algorithm to pause.")
        if parent.algo_state != AlgoState.RUNNING or parent.status in TERMINAL_STATUSES:
            raise InvalidState(
                f"The algo is {parent.algo_state or parent.status}; only a running one pauses.",
                extra={"order_id": str(parent.pk)},
            )
        parent.algo = {**parent.algo, "paused_at": timezone.now().isoformat()}
        parent.algo_state = AlgoState.PAUSED
        parent.algo_next_at = None
        order_record_event(
            order=parent,
            event_type=OrderEventType.ALGO_PAUSED,
            actor=actor,
            data={"filled_qty": parent.filled_qty},
            update_fields=["algo", "algo_state", "algo_next_at"],
        )
        order_publish(parent)
    _cancel_children(order_id, reason="algo_paused")
    return Order.objects.get(pk=order_id)


def algo_resume(
    *,
    user: User | None,
    api_key: ApiKey | None = None,
    order_id: object,
    actor: Actor | None = None,
) -> Order:
    """Carry on: the schedule shifts by the time spent paused. 409 unless paused."""
    _parent_for_user(user, order_id)
    actor = actor or actor_for(user=user, api_key=api_key)
    now = timezone.now()
    with transaction.atomic():
        parent = lock_one(Order.objects, pk=order_id)
        if not parent.algo:
            raise InvalidState("This order has no execution algorithm to resume.")
        if parent.algo_state != AlgoState.PAUSED or parent.status in TERMINAL_STATUSES:
            raise InvalidState(
                f"The algo is {parent.algo_state or parent.status}; only a paused one resumes.",
                extra={"order_id": str(parent.pk)},
            )
        algo = dict(parent.algo)
        paused_at = parse_datetime(algo.pop("paused_at", now.isoformat()))
        paused = max(0, int((now - paused_at).total_seconds()))
        algo["paused_secs"] = algo.get("paused_secs", 0) + paused
        # New keys for what is placed from now on (the withdrawn children used the old).
        algo["gen"] = algo.get("gen", 0) + 1
        if algo["type"] != "iceberg":
            # The slice that was due when it paused is re-placed now.
            algo["sent"] = max(0, slices_due_count(algo, now) - 1)
        parent.algo = algo
        parent.algo_state = AlgoState.RUNNING
        parent.algo_next_at = now
        order_record_event(
            order=parent,
            event_type=OrderEventType.ALGO_RESUMED,
            actor=actor,
            data={"paused_secs": paused},
            update_fields=["algo", "algo_state", "algo_next_at"],
        )
        order_publish(parent)
        enqueue_algo_step(parent.pk)
    return Order.objects.get(pk=order_id)


def algo_children_cancel(*, parent_id: object) -> list[str]:
    """After the parent was cancelled: withdraw its working children."""
    return _cancel_children(parent_id, reason="parent_canceled")


# --- the core's cancel hook ----------------------------------------------------------------------


def _algo_cancel_locked(order: Order) -> list[str]:
    """A parent canceled locally (it lives in OMS only): it stops releasing children."""
    if not order.algo:
        return []
    order.algo_state = AlgoState.STOPPED
    order.algo_next_at = None
    return ["algo_state", "algo_next_at"]


def _algo_canceled(order: Order) -> None:
    if order.algo:
        algo_children_cancel(parent_id=order.pk)


algo_cancel_hook = CancelHook(name="algo", locked=_algo_cancel_locked, canceled=_algo_canceled)
