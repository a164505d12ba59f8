"""The release of held orders (a stop trigger fired, the market opened) through the same
pre-trade risk checks as a new order. The release guards (orders/core/hooks.py) name the
orders whose commitment it takes over (an OCO sibling), or cancel it instead."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import TradingAccount
from marketdata.models import Instrument
from marketdata.selectors import quote_latest
from oms_site.locks import lock_one, lock_one_or_none
from orders.core import risk
from orders.core.hooks import ReleaseGuard, release_guards
from orders.core.lifecycle import Actor, order_record_event, order_transition
from orders.core.publish import order_publish
from orders.core.submit_burst import enqueue_submission
from orders.core.trigger_store import triggers_cancel_for_order
from orders.models import HoldReason, Order, OrderEventType, OrderSide, OrderStatus, OrderType

ZERO = Decimal("0")


def _own_commitment(order: Order, siblings: list[Order]) -> Decimal:
    """Buying power the order being released (and the OCO siblings it replaces) already
    hold in the account's commitment: it may use it again. A held OCO member is not in the
    commitment (its sibling stands for it: orders.core.selectors)."""
    total = ZERO
    covered = order.oco_group is not None
    for member in (order, *siblings):
        if member.side != OrderSide.BUY:
            continue
        if member is order and covered:
            continue
        if member is not order and member.status == OrderStatus.HELD:
            continue
        total += (member.qty - member.filled_qty) * (member.est_price or ZERO)
    return total


@transaction.atomic
def order_release(
    *,
    order_id: object,
    actor: Actor,
    event_type: str = OrderEventType.RELEASED,
    data: dict[str, Any] | None = None,
    locked: Order | None = None,
) -> Order | None:
    """A held order goes live: re-run the risk checks (market price, buying power, limits;
    not the placement counters), then held → pending_new and submit after commit.

    A risk failure rejects it; a closed market (with after-market orders allowed) keeps it
    held as queued_for_open. Returns None when the order is not held any more.
    Lock order: the order row, then the account row.
    """
    # `locked`: the caller holds this row's lock in the current transaction already.
    order = locked if locked is not None else lock_one_or_none(Order.objects, pk=order_id)
    if order is None or order.status != OrderStatus.HELD:
        return None
    guard = _guard(order)
    if guard.cancel_reason:
        _cancel_instead(order, actor, data, reason=guard.cancel_reason)
        return order
    decision = _release_risk(order, guard.replaces)
    payload = {**(data or {}), "checks": decision.checks}
    if not decision.ok:
        order.reject_reason = decision.reject_reason
        triggers_cancel_for_order(order=order)
        order_transition(
            order=order,
            to_status=OrderStatus.REJECTED,
            event_type=OrderEventType.REJECTED,
            actor=actor,
            data={**payload, "reason": order.reject_reason},
            update_fields=["reject_reason"],
        )
        order_publish(order)
    elif decision.queue_for_open:
        _keep_for_open(order, actor, payload)
    else:
        _go_live(order, actor, event_type, decision, payload)
    return order


def _guard(order: Order) -> ReleaseGuard:
    merged = ReleaseGuard()
    for guard in release_guards():
        verdict = guard(order)
        if verdict is None:
            continue
        if verdict.cancel_reason:
            return verdict
        merged.replaces.extend(verdict.replaces)
    return merged


def _cancel_instead(
    order: Order, actor: Actor, data: dict[str, Any] | None, *, reason: str
) -> None:
    triggers_cancel_for_order(order=order)
    order.cancel_reason = reason
    order_transition(
        order=order,
        to_status=OrderStatus.CANCELED,
        event_type=OrderEventType.CANCELED,
        actor=actor,
        data={**(data or {}), "reason": reason},
        update_fields=["cancel_reason"],
    )
    order_publish(order)


def _release_risk(order: Order, siblings: list[Order]) -> risk.RiskDecision:
    account = lock_one(TradingAccount.objects, pk=order.account_id)
    instrument = Instrument.objects.select_related("exchange").get(pk=order.instrument_id)
    stop_released = order.type in (OrderType.STOP, OrderType.TRAILING_STOP)
    draft = risk.OrderDraft(
        side=order.side,
        type=order.type,
        qty=order.qty - order.filled_qty,
        limit_price=order.limit_price,
        stop_price=None if stop_released else order.stop_price,
        time_in_force=order.time_in_force,
    )
    ctx = risk.risk_context_build(
        account=account,
        instrument=instrument,
        draft=draft,
        quote=quote_latest(symbol=order.symbol),
        now=timezone.now(),
        exclude_order_id=[order.pk, *(s.pk for s in siblings)],
        own_commitment=_own_commitment(order, siblings),
        counting_checks=False,
    )
    return risk.risk_evaluate(draft, order.symbol, ctx)


def _keep_for_open(order: Order, actor: Actor, payload: dict[str, Any]) -> None:
    if order.hold_reason == HoldReason.QUEUED_FOR_OPEN:
        return
    order.hold_reason = HoldReason.QUEUED_FOR_OPEN
    order_record_event(
        order=order,
        event_type=OrderEventType.QUEUED_FOR_OPEN,
        actor=actor,
        data=payload,
        update_fields=["hold_reason"],
    )
    order_publish(order)


def _go_live(
    order: Order,
    actor: Actor,
    event_type: str,
    decision: risk.RiskDecision,
    payload: dict[str, Any],
) -> None:
    order.hold_reason = ""
    if decision.est_price is not None:
        order.est_price = decision.est_price
    order_transition(
        order=order,
        to_status=OrderStatus.PENDING_NEW,
        event_type=event_type,
        actor=actor,
        data=payload,
        update_fields=["hold_reason", "est_price"],
    )
    order_publish(order)  # before the submission's own pushes (on-commit order)
    enqueue_submission(order)
