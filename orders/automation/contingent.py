"""Contingent orders: brackets, OCO pairs and OTO entries.

Shapes (all linked through `Order.parent`, visible as `legs` of the root order):

* ``bracket``: an entry order with a take-profit limit and a stop-loss stop (or
  stop-limit) on the other side. The legs exist from the start, `held` (hold_reason
  `parent`: waiting for the entry). When the entry fills they go live for the filled
  quantity as an OCO pair — the take-profit to the venue (through the risk checks), the
  stop-loss armed on its trigger (held by OMS); each later entry fill grows them.
* ``oto``: the same with one exit leg.
* ``oco``: the order itself is the take-profit limit (working at the venue) and a held
  stop-loss leg is created with it; together they cover its quantity once.

One rule set keeps every pair right (`contingent_sync`, run after each change of a
member, idempotent — it looks at state, not at events):

* covered = the entry's filled quantity (bracket/oto) or the oco quantity; executed = the
  members' fills; every open member is sized to its own fills + (covered − executed);
* nothing left to cover → the open members are cancelled;
* a stop-loss that has triggered → the take-profit is cancelled (whichever triggers first
  wins; a triggering stop never meets a still-working take-profit);
* a member cancelled or expired by anyone but this engine → the other members are
  cancelled too (the pair lives and dies together). A rejected member does not cancel
  the other one.

An entry that ends (cancelled, rejected, expired) before any fill takes its waiting legs
with it, in the same transaction. An entry cancelled after a partial fill leaves the legs
of what it filled in place: they protect a real position.
"""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from oms_site.api import format_decimal
from oms_site.errors import ApplicationError
from oms_site.locks import lock_one, lock_rows
from orders.core import jobs
from orders.core.cancel import order_cancel
from orders.core.hooks import ReleaseGuard
from orders.core.lifecycle import (
    Actor,
    actor_system,
    order_event_created,
    order_record_event,
    order_transition,
)
from orders.core.modify import order_modify
from orders.core.placement import good_till
from orders.core.publish import order_publish
from orders.core.release import order_release
from orders.core.trigger_store import trigger_create_for_order, triggers_cancel_for_order
from orders.core.values import decimal_or_none
from orders.models import (
    TERMINAL_STATUSES,
    HoldReason,
    LegRole,
    Order,
    OrderClass,
    OrderEventType,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)

logger = logging.getLogger(__name__)

CONTINGENT_ACTOR = actor_system("contingent")
OCO_REASON = "oco"
LEG_ROLES = (LegRole.TAKE_PROFIT, LegRole.STOP_LOSS)
ZERO = Decimal("0")


def _opposite(side: str) -> str:
    return OrderSide.SELL if side == OrderSide.BUY else OrderSide.BUY


def _leg_tif(root: Order) -> tuple[str, object]:
    """Exit legs rest: day/gtc/gtd as the entry; an ioc/fok entry's legs are day orders."""
    if root.time_in_force in (TimeInForce.DAY, TimeInForce.GTC):
        return root.time_in_force, None
    if root.time_in_force == TimeInForce.GTD:
        return TimeInForce.GTD, root.expire_at
    return TimeInForce.DAY, None


def _insert_leg(
    *,
    root: Order,
    role: str,
    side: str,
    qty: Decimal,
    order_type: str,
    limit_price: Decimal | None,
    stop_price: Decimal | None,
    oco_group: object,
    tif: str,
    expire_at: object,
    actor: Actor,
    waiting: bool = False,
) -> Order:
    """A held exit leg of `root` (inside the caller's transaction). `waiting`: it waits for
    the entry to fill (no trigger yet). Otherwise a stop gets its trigger and a limit waits
    for `order_release`."""
    now = timezone.now()
    triggered = order_type in (OrderType.STOP, OrderType.STOP_LIMIT) and not waiting
    leg = Order(
        account_id=root.account_id,
        instrument=root.instrument,
        symbol=root.symbol,
        side=side,
        type=order_type,
        qty=qty,
        limit_price=limit_price,
        stop_price=stop_price,
        time_in_force=tif,
        expire_at=expire_at,
        order_class=root.order_class,
        parent=root,
        leg_role=role,
        oco_group=oco_group,
        status=OrderStatus.HELD,
        hold_reason=HoldReason.TRIGGER if triggered else HoldReason.PARENT,
        product=root.product,
        tag=root.tag,
        broker=root.broker,
        est_price=limit_price if limit_price is not None else stop_price,
        good_till=good_till(
            instrument=root.instrument, tif=tif, expire_at=expire_at, now=now, queued=False
        ),
        created_by=root.created_by,
        created_at=now,
        updated_at=now,
        event_seq=1,
    )
    leg.save(force_insert=True)
    order_event_created(
        order=leg,
        actor=actor,
        data={"parent_id": str(root.pk), "leg_role": role, "hold_reason": leg.hold_reason},
    )
    if triggered:
        trigger_create_for_order(order=leg, last=None)
    return leg


def oco_stop_leg_create(*, parent: Order, spec: dict, actor: Actor) -> Order:
    """The stop-loss member of an `oco` order, created with it (placement transaction)."""
    limit = spec.get("limit_price")
    leg = _insert_leg(
        root=parent,
        role=LegRole.STOP_LOSS,
        side=parent.side,
        qty=parent.qty,
        order_type=OrderType.STOP_LIMIT if limit is not None else OrderType.STOP,
        limit_price=limit,
        stop_price=spec["stop_price"],
        oco_group=parent.oco_group,
        tif=parent.time_in_force,
        expire_at=parent.expire_at,
        actor=actor,
    )
    order_publish(leg)
    return leg


# --- reading a group ------------------------------------------------------------------------


def _root_of(order: Order) -> Order:
    if order.leg_role in LEG_ROLES and order.parent_id is not None:
        return Order.objects.get(pk=order.parent_id)
    return order


def _members(root: Order, legs: list[Order]) -> tuple[list[Order], Decimal]:
    """(pair members, quantity the pair covers)."""
    if root.order_class == OrderClass.OCO:
        return [root, *legs], decimal_or_none((root.leg_spec or {}).get("pair_qty")) or root.qty
    return legs, root.filled_qty


def pair_remaining(order: Order) -> Decimal | None:
    """Quantity an OCO member may still execute (covered − executed by the group), or None
    when `order` is not part of a pair."""
    if order.oco_group is None:
        return None
    root = _root_of(order)
    legs = list(Order.objects.filter(parent=root, leg_role__in=LEG_ROLES))
    members, covered = _members(root, legs)
    executed = sum((m.filled_qty for m in members), ZERO)
    return covered - executed


def oco_open_siblings(order: Order) -> list[Order]:
    """The other open members of `order`'s OCO pair."""
    if order.oco_group is None:
        return []
    return list(
        Order.objects.filter(oco_group=order.oco_group, status__in=_OPEN).exclude(pk=order.pk)
    )


_OPEN = [s for s in OrderStatus.values if s not in TERMINAL_STATUSES]


# --- synchronising a group --------------------------------------------------------------------


def enqueue_contingent_sync(root_id: object) -> None:
    root_id = str(root_id)
    jobs.enqueue(
        "orders.contingent_sync",
        root_id,
        what=f"a change in the order group of {root_id}",
        recovery="its next fill or cancel synchronises the group again",
    )


def contingent_sync(*, order_id: object) -> list[str]:
    """Bring the group of `order_id` (its root or any member) in line with the rules in the
    module docstring. Held members change at once; working ones are cancelled / resized
    at their venue afterwards. Returns what was done ("cancel:<id>", "resize:<id>:<qty>",
    "legs:<id>,<id>") for logs and tests."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return []
    root = _root_of(order)
    done, venue_actions = _sync_locked(root_id=root.pk)
    for kind, member_id, qty in venue_actions:
        try:
            if kind == "cancel":
                order_cancel(
                    user=None, actor=CONTINGENT_ACTOR, order_id=member_id, reason=OCO_REASON
                )
                done.append(f"cancel:{member_id}")
            else:
                order_modify(user=None, actor=CONTINGENT_ACTOR, order_id=member_id, qty=qty)
                done.append(f"resize:{member_id}:{format_decimal(qty)}")
        except ApplicationError as exc:  # closed meanwhile, venue down: the next change re-syncs
            logger.warning("Contingent %s of order %s failed: %s", kind, member_id, exc.message)
    return done


@transaction.atomic
def _sync_locked(*, root_id: object) -> tuple[list[str], list[tuple[str, object, Decimal | None]]]:
    # Lock order: the root, then its legs by pk, then (releasing a leg) the account.
    root = lock_one(Order.objects, pk=root_id)
    legs = lock_rows(Order.objects.filter(parent=root, leg_role__in=LEG_ROLES))
    if root.order_class in (OrderClass.BRACKET, OrderClass.OTO):
        waiting = [
            leg
            for leg in legs
            if leg.status == OrderStatus.HELD and leg.hold_reason == HoldReason.PARENT
        ]
        if root.filled_qty <= 0:
            if root.status in TERMINAL_STATUSES and waiting:
                count = legs_cancel_waiting(entry=root, reason="parent_" + root.status)
                return [f"cancel_waiting:{count}"], []
            if waiting and any(_killed(leg) for leg in legs):
                # A waiting leg cancelled by hand takes its OCO sibling with it.
                for leg in waiting:
                    if leg.oco_group is not None:
                        _cancel_held(leg)
                return [f"cancel:{leg.pk}" for leg in waiting if leg.oco_group], []
            return [], []
        if waiting:
            _activate_legs(root, waiting)
            return [f"legs:{','.join(str(leg.pk) for leg in waiting)}"], []
    elif root.order_class != OrderClass.OCO:
        return [], []
    members, covered = _members(root, legs)
    return _pair_actions(members, covered)


def bracket_legs_create(*, entry: Order, actor: Actor) -> list[Order]:
    """The exit legs of a bracket / oto entry, created with it (placement transaction):
    held until the entry fills, sized to the entry's quantity until then."""
    spec = entry.leg_spec or {}
    tp, sl = spec.get("take_profit"), spec.get("stop_loss")
    side = _opposite(entry.side)
    group = uuid.uuid4() if tp and sl else None
    tif, expire_at = _leg_tif(entry)
    common = {
        "root": entry,
        "side": side,
        "qty": entry.qty,
        "oco_group": group,
        "tif": tif,
        "expire_at": expire_at,
        "actor": actor,
        "waiting": True,
    }
    legs: list[Order] = []
    if tp:
        legs.append(
            _insert_leg(
                role=LegRole.TAKE_PROFIT,
                order_type=OrderType.LIMIT,
                limit_price=decimal_or_none(tp["limit_price"]),
                stop_price=None,
                **common,
            )
        )
    if sl:
        limit = decimal_or_none(sl.get("limit_price"))
        legs.append(
            _insert_leg(
                role=LegRole.STOP_LOSS,
                order_type=OrderType.STOP_LIMIT if limit is not None else OrderType.STOP,
                limit_price=limit,
                stop_price=decimal_or_none(sl["stop_price"]),
                **common,
            )
        )
    for leg in legs:
        order_publish(leg)
    return legs


def _activate_legs(root: Order, waiting: list[Order]) -> list[Order]:
    """The entry has filled: its waiting legs go live for the filled quantity — the stop
    armed on its trigger, the take-profit released to the venue through the risk checks."""
    qty = root.filled_qty
    take_profits = []
    for leg in waiting:
        if leg.qty != qty:
            _resize_held(leg, qty, publish=False)
        if leg.type in (OrderType.STOP, OrderType.STOP_LIMIT):
            leg.hold_reason = HoldReason.TRIGGER
            leg.save(update_fields=["hold_reason"])
            trigger_create_for_order(order=leg, last=None)
            order_publish(leg)
        else:
            take_profits.append(leg)
    order_record_event(
        order=root,
        event_type=OrderEventType.LEGS_LIVE,
        actor=CONTINGENT_ACTOR,
        data={"legs": [str(leg.pk) for leg in waiting], "qty": qty},
    )
    order_publish(root)
    for leg in take_profits:
        order_release(
            order_id=leg.pk,
            actor=CONTINGENT_ACTOR,
            event_type=OrderEventType.RELEASED,
            data={"reason": "entry_filled", "parent_id": str(root.pk)},
        )
    return waiting


def legs_cancel_waiting(*, entry: Order, reason: str) -> int:
    """The entry ended without a fill: its legs still waiting for it are cancelled (inside
    the entry's transaction, entry row locked; lock order entry → legs)."""
    waiting = lock_rows(
        Order.objects.filter(
            parent=entry,
            leg_role__in=LEG_ROLES,
            status=OrderStatus.HELD,
            hold_reason=HoldReason.PARENT,
        )
    )
    for leg in waiting:
        _cancel_held(leg, reason=reason)
    return len(waiting)


def _cancel_held(member: Order, reason: str = OCO_REASON) -> None:
    triggers_cancel_for_order(order=member)
    member.cancel_reason = reason[:32]
    order_transition(
        order=member,
        to_status=OrderStatus.CANCELED,
        event_type=OrderEventType.CANCELED,
        actor=CONTINGENT_ACTOR,
        data={"reason": reason},
        update_fields=["cancel_reason"],
    )
    order_publish(member)


def _resize_held(member: Order, qty: Decimal, *, publish: bool = True) -> None:
    old = member.qty
    member.qty = qty
    member.version += 1
    order_record_event(
        order=member,
        event_type=OrderEventType.MODIFIED,
        actor=CONTINGENT_ACTOR,
        data={
            "changes": {"qty": [format_decimal(old), format_decimal(qty)]},
            "version": member.version,
            "reason": OCO_REASON,
        },
        update_fields=["qty", "version"],
    )
    if publish:
        order_publish(member)


def _killed(member: Order) -> bool:
    """Cancelled or expired by someone other than this engine."""
    return (
        member.status
        in (
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
        )
        and member.cancel_reason != OCO_REASON
    )


def _pair_actions(
    members: list[Order], covered: Decimal
) -> tuple[list[str], list[tuple[str, object, Decimal | None]]]:
    executed = sum((m.filled_qty for m in members), ZERO)
    remaining = covered - executed
    open_members = [m for m in members if m.status not in TERMINAL_STATUSES]
    killed = any(_killed(m) for m in members)
    stop_triggered = [
        m
        for m in members
        if m.leg_role == LegRole.STOP_LOSS
        and m.status not in (OrderStatus.HELD, OrderStatus.CANCELED, OrderStatus.EXPIRED)
        and m.status != OrderStatus.REJECTED
    ]
    if killed or remaining <= 0:
        to_cancel = open_members
    elif stop_triggered:
        to_cancel = [m for m in open_members if m not in stop_triggered]
    else:
        to_cancel = []
    done: list[str] = []
    venue: list[tuple[str, object, Decimal | None]] = []
    for member in to_cancel:
        if member.status == OrderStatus.PENDING_CANCEL:
            continue
        if member.status == OrderStatus.HELD:
            _cancel_held(member)
            done.append(f"cancel:{member.pk}")
        else:
            venue.append(("cancel", member.pk, None))
    if to_cancel:
        return done, venue
    for member in open_members:
        want = member.filled_qty + remaining
        if member.qty == want or member.status == OrderStatus.PENDING_CANCEL:
            continue
        if member.status == OrderStatus.HELD:
            _resize_held(member, want)
            done.append(f"resize:{member.pk}:{format_decimal(want)}")
        elif member.pending_modify is None:
            venue.append(("resize", member.pk, want))
    return done, venue


# --- the core's release guard --------------------------------------------------------------------


def oco_release_guard(order: Order) -> ReleaseGuard | None:
    """An OCO member about to go live: canceled instead when its sibling executed the whole
    pair meanwhile (nothing left to protect); else it takes over its open siblings'
    commitment."""
    if order.oco_group is None:
        return None
    remaining = pair_remaining(order)
    if remaining is not None and remaining <= 0:
        return ReleaseGuard(cancel_reason=OCO_REASON)
    return ReleaseGuard(replaces=oco_open_siblings(order))
