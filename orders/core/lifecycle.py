"""The order state machine: the allowed-transition table, the one function that moves an
order between states (writing its audit event), and the replay of an audit trail.

Callers hold the order's row lock (`select_for_update`) and pass a fresh instance: the
next event number comes from `order.event_seq`, and the (order, seq) unique constraint
turns a caller that forgot the lock into a loud IntegrityError instead of a silent gap.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.db.models import F
from django.utils import timezone

from oms_site.compiled_query import insert_new, update_saved
from oms_site.errors import InvalidState
from orders.core.hooks import change_hooks, transition_listeners
from orders.core.values import decimal_or_none, json_value
from orders.models import (
    TERMINAL_STATUSES,
    Order,
    OrderEvent,
    OrderEventType,
)
from orders.models import OrderStatus as S

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING_NEW: frozenset(
        {
            S.NEW,
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.PENDING_CANCEL,
            S.CANCELED,
            S.REJECTED,
            S.EXPIRED,
        }
    ),
    S.HELD: frozenset({S.PENDING_NEW, S.CANCELED, S.EXPIRED, S.REJECTED}),
    S.NEW: frozenset(
        {S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL, S.CANCELED, S.EXPIRED, S.REJECTED}
    ),
    S.PARTIALLY_FILLED: frozenset(
        {S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL, S.CANCELED, S.EXPIRED}
    ),
    # A fill racing the cancel wins (partial: the cancel goes on for the rest); a rejected
    # cancel returns the order to where it was (pending_new / new / partially_filled).
    S.PENDING_CANCEL: frozenset(
        {
            S.PENDING_CANCEL,
            S.CANCELED,
            S.EXPIRED,
            S.FILLED,
            S.PARTIALLY_FILLED,
            S.NEW,
            S.PENDING_NEW,
            S.REJECTED,
        }
    ),
    S.FILLED: frozenset(),
    S.CANCELED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}

# Event types that never change the status (notes, modifications, trailing moves).
NOTE_EVENTS = frozenset(
    {
        OrderEventType.SUBMITTED,
        OrderEventType.RESUBMITTED,
        OrderEventType.ACCEPTED,
        OrderEventType.MODIFIED,
        OrderEventType.MODIFY_REQUESTED,
        OrderEventType.MODIFY_REJECTED,
        OrderEventType.CANCEL_REJECTED,
        OrderEventType.STOP_MOVED,
        OrderEventType.QUEUED_FOR_OPEN,
        OrderEventType.LATE_FILL,
        OrderEventType.LEGS_LIVE,
        OrderEventType.ALGO_STARTED,
        OrderEventType.ALGO_PAUSED,
        OrderEventType.ALGO_RESUMED,
        OrderEventType.SLICE_PLACED,
    }
)


def is_automated(order: Order) -> bool:
    """Orders whose changes concern other orders or a GTT: the change hooks hear of them
    (orders/core/hooks.py; the automation wing registers them)."""
    return bool(
        order.parent_id
        or order.leg_spec
        or order.oco_group
        or order.algo
        or order.reentry_max
        or order.gtt_id
    )


def _run_change_hooks(
    *, order: Order, from_status: str, event_type: str, data: dict[str, Any]
) -> None:
    for hook in change_hooks():
        hook(order=order, from_status=from_status, event_type=event_type, data=data)


def closed_error(order: Order, action: str) -> InvalidState:
    """409 for an order that is closed (terminal) and cannot be `action` ("canceled")."""
    return InvalidState(
        f"The order is {order.status}; it cannot be {action}.", extra={"order_id": str(order.pk)}
    )


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in ALLOWED_TRANSITIONS.get(from_status, frozenset())


@dataclass(frozen=True, slots=True)
class Actor:
    """Who caused an event: a user (browser), an API key, or the system (venue, beat)."""

    type: str  # "user" | "api_key" | "system"
    id: str | None
    name: str

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id, "name": self.name}


def actor_system(name: str) -> Actor:
    return Actor(type="system", id=None, name=name)


def actor_for(*, user: Any = None, api_key: Any = None) -> Actor:
    if api_key is not None:
        label = f"{api_key.user.username} ({api_key.prefix})"
        return Actor(type="api_key", id=str(api_key.pk), name=label)
    if user is not None and getattr(user, "pk", None):
        return Actor(type="user", id=str(user.pk), name=user.username)
    return actor_system("system")


SYSTEM_VENUE = actor_system("venue")


# Inside `order_events_together()`: the audit events waiting for their one INSERT.
_pending_events: ContextVar[list[OrderEvent] | None] = ContextVar(
    "oms_pending_order_events", default=None
)


def _append_event(
    *, order: Order, event_type: str, actor: Actor, data: Mapping[str, Any] | None
) -> OrderEvent:
    order.event_seq += 1
    event = OrderEvent(
        order=order,
        seq=order.event_seq,
        type=event_type,
        at=timezone.now(),
        actor=actor.as_json(),
        data=json_value(dict(data or {})),
    )
    pending = _pending_events.get()
    if pending is None:
        event.save(force_insert=True)
    else:
        pending.append(event)
    return event


@contextmanager
def order_events_together() -> Iterator[None]:
    """Inside a transaction: the audit events of the block are written in one INSERT at
    its end (a burst writes three per order). Nothing in the block reads them back, and
    the (order, seq) constraint still refuses a double; an error writes none of them."""
    pending: list[OrderEvent] = []
    token = _pending_events.set(pending)
    try:
        yield
        insert_new(pending, keys=False)  # one INSERT, written once; nobody reads their ids
    finally:
        _pending_events.reset(token)


def order_event_created(
    *, order: Order, actor: Actor, data: Mapping[str, Any] | None = None
) -> OrderEvent:
    """The first event of a freshly inserted order (inserted with event_seq=1): its
    initial state, for replay."""
    snapshot = {
        "to": order.status,
        "order": {
            "type": order.type,
            "side": order.side,
            "qty": order.qty,
            "limit_price": order.limit_price,
            "stop_price": order.stop_price,
            "trail_price": order.trail_price,
            "trail_percent": order.trail_percent,
            "time_in_force": order.time_in_force,
            "expire_at": order.expire_at,
            "display_qty": order.display_qty,
        },
        **(data or {}),
    }
    if order.event_seq != 1:
        raise ValueError("insert a new order with event_seq=1: its created event is seq 1")
    event = OrderEvent(
        order=order,
        seq=1,
        type=OrderEventType.CREATED,
        at=order.created_at,
        actor=actor.as_json(),
        data=json_value(snapshot),
    )
    insert_new([event])  # every order placed: the statement written once
    return event


def order_transition(
    *,
    order: Order,
    to_status: str,
    event_type: str,
    actor: Actor,
    data: Mapping[str, Any] | None = None,
    update_fields: Iterable[str] = (),
) -> OrderEvent:
    """Move `order` to `to_status` if the table allows it, save it, append the event.

    `update_fields` names other fields the caller changed on `order` in the same step
    (filled_qty, reject_reason…): they are saved together with the status.
    """
    from_status = order.status
    if not can_transition(from_status, to_status):
        raise InvalidState(
            f"An order that is {from_status} cannot become {to_status}.",
            extra={"order_id": str(order.pk)},
        )
    now = timezone.now()
    order.status = to_status
    order.updated_at = now
    fields = {"status", "updated_at", "event_seq", *update_fields}
    if to_status == S.FILLED and order.filled_at is None:
        order.filled_at = now
        fields.add("filled_at")
    if to_status in (S.CANCELED, S.EXPIRED) and order.canceled_at is None:
        order.canceled_at = now
        fields.add("canceled_at")
    payload = {"from": from_status, "to": to_status, **(data or {})}
    if to_status == S.REJECTED:
        payload.setdefault("reason", order.reject_reason)
    event = _append_event(order=order, event_type=event_type, actor=actor, data=payload)
    update_saved(order, fields=tuple(sorted(fields)))  # order.save(update_fields=...)
    if is_automated(order):
        _run_change_hooks(order=order, from_status=from_status, event_type=event_type, data=payload)
    for listener in transition_listeners():
        listener(
            order=order, from_status=from_status, event_type=event_type, actor=actor, data=payload
        )
    return event


def order_record_event(
    *,
    order: Order,
    event_type: str,
    actor: Actor,
    data: Mapping[str, Any] | None = None,
    update_fields: Iterable[str] = (),
) -> OrderEvent:
    """An event that does not change the status (modification, note, trailing move).

    Terminal orders take only `late_fill` notes: their state never changes otherwise.
    """
    if event_type not in NOTE_EVENTS:
        raise ValueError(f"{event_type} changes the status; use order_transition")
    if order.status in TERMINAL_STATUSES and event_type not in (
        OrderEventType.LATE_FILL,
        OrderEventType.LEGS_LIVE,
    ):
        raise InvalidState(
            f"The order is {order.status}; it cannot change any more.",
            extra={"order_id": str(order.pk)},
        )
    order.updated_at = timezone.now()
    event = _append_event(order=order, event_type=event_type, actor=actor, data=data)
    order.save(update_fields=sorted({"updated_at", "event_seq", *update_fields}))
    if event_type == OrderEventType.LATE_FILL and is_automated(order):
        _run_change_hooks(
            order=order, from_status=order.status, event_type=event_type, data=dict(data or {})
        )
    return event


def orders_record_event(
    *,
    orders: list[Order],
    event_type: str,
    actor: Actor,
    data: Mapping[str, Any],
    values: Mapping[str, Any],
) -> None:
    """`order_record_event` for many locked orders at once, setting the same `values` on
    each (a burst's `submitted`): one UPDATE for all of them instead of one each. Only for
    events that run no hooks (not `late_fill`)."""
    if event_type not in NOTE_EVENTS or event_type == OrderEventType.LATE_FILL:
        raise ValueError(f"{event_type} cannot be recorded for many orders at once")
    now = timezone.now()
    for order in orders:
        if order.status in TERMINAL_STATUSES:
            raise InvalidState(
                f"The order is {order.status}; it cannot change any more.",
                extra={"order_id": str(order.pk)},
            )
        for name, value in values.items():
            setattr(order, name, value)
        order.updated_at = now
        _append_event(order=order, event_type=event_type, actor=actor, data=data)
    Order.objects.filter(pk__in=[order.pk for order in orders]).update(
        updated_at=now, event_seq=F("event_seq") + 1, **values
    )


# --- replay ------------------------------------------------------------------------------

AVG_PRICE_QUANTUM = Decimal("0.00000001")


def weighted_average(notional: Decimal, qty: Decimal) -> Decimal | None:
    """avg fill price = Σ qty×price / Σ qty, rounded half-even to the column's 8 places."""
    if not qty:
        return None
    return (notional / qty).quantize(AVG_PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)


REPLAYED_FIELDS = (
    "status",
    "qty",
    "filled_qty",
    "avg_fill_price",
    "limit_price",
    "stop_price",
    "trail_price",
    "trail_percent",
    "version",
    "reject_reason",
)


def order_replay(events: Iterable[Any]) -> dict[str, Any]:
    """Fold an order's events (OrderEvent rows or dicts with type/data) into its state.

    Returns the REPLAYED_FIELDS; the test-suite checks it equals the stored order.
    """
    state: dict[str, Any] = {}
    notional = Decimal("0")
    expected_seq = 1
    for event in events:
        seq = event["seq"] if isinstance(event, Mapping) else event.seq
        event_type = event["type"] if isinstance(event, Mapping) else event.type
        data = event["data"] if isinstance(event, Mapping) else event.data
        if seq != expected_seq:
            raise ValueError(f"audit trail has a gap: expected seq {expected_seq}, got {seq}")
        expected_seq += 1
        if event_type == OrderEventType.CREATED:
            snap = data["order"]
            state = {
                "status": data["to"],
                "qty": decimal_or_none(snap["qty"]),
                "filled_qty": Decimal("0"),
                "avg_fill_price": None,
                "limit_price": decimal_or_none(snap.get("limit_price")),
                "stop_price": decimal_or_none(snap.get("stop_price")),
                "trail_price": decimal_or_none(snap.get("trail_price")),
                "trail_percent": decimal_or_none(snap.get("trail_percent")),
                "version": 1,
                "reject_reason": "",
            }
            continue
        if not state:
            raise ValueError("audit trail does not start with a created event")
        if event_type in (
            OrderEventType.FILL,
            OrderEventType.PARTIAL_FILL,
            OrderEventType.LATE_FILL,
        ):
            fill_qty = Decimal(data["fill_qty"])
            notional += fill_qty * Decimal(data["fill_price"])
            state["filled_qty"] += fill_qty
            state["avg_fill_price"] = weighted_average(notional, state["filled_qty"])
        elif event_type == OrderEventType.MODIFIED:
            for name, (_old, new) in data.get("changes", {}).items():
                state[name] = decimal_or_none(new)
            state["version"] = data.get("version", state["version"] + 1)
        elif event_type == OrderEventType.STOP_MOVED:
            state["stop_price"] = decimal_or_none(data["stop_price"])
        if "to" in data:
            if data.get("from") != state["status"]:
                raise ValueError(
                    f"event {seq} moves from {data.get('from')} but the order is {state['status']}"
                )
            state["status"] = data["to"]
            if data["to"] == S.REJECTED:
                state["reject_reason"] = data.get("reason", "")
    return state


def order_state(order: Order) -> dict[str, Any]:
    """The stored order's REPLAYED_FIELDS, normalised like `order_replay`'s output."""
    out: dict[str, Any] = {}
    for name in REPLAYED_FIELDS:
        value = getattr(order, name)
        if isinstance(value, Decimal):
            value = Decimal(value)
        out[name] = value
    return out
