"""The release of held orders (a stop trigger fired, the market opened) through the same
pre-trade risk checks as a new order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import TradingAccount
from marketdata.models import Instrument
from marketdata.selectors import quote_latest
from orders.core import risk
from orders.core.lifecycle import Actor, order_record_event, order_transition
from orders.core.place import enqueue_submit
from orders.core.publish import order_publish
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
    order = (
        locked
        if locked is not None
        else (Order.objects.select_for_update().filter(pk=order_id).first())
    )
    if order is None or order.status != OrderStatus.HELD:
        return None
    siblings: list[Order] = []
    if order.oco_group is not None:
        from orders.automation.contingent import OCO_REASON, oco_open_siblings, pair_remaining

        remaining = pair_remaining(order)
        if remaining is not None and remaining <= 0:
            # Its OCO sibling executed everything meanwhile: nothing left to protect.
            triggers_cancel_for_order(order=order)
            order.cancel_reason = OCO_REASON
            order_transition(
                order=order,
                to_status=OrderStatus.CANCELED,
                event_type=OrderEventType.CANCELED,
                actor=actor,
                data={**(data or {}), "reason": OCO_REASON},
                update_fields=["cancel_reason"],
            )
            order_publish(order)
            return order
        siblings = oco_open_siblings(order)
    account = TradingAccount.objects.select_for_update().get(pk=order.account_id)
    instrument = Instrument.objects.select_related("exchange").get(pk=order.instrument_id)
    quote = quote_latest(symbol=order.symbol)
    now = timezone.now()
    draft = risk.OrderDraft(
        side=order.side,
        type=order.type,
        qty=order.qty - order.filled_qty,
        limit_price=order.limit_price,
        stop_price=None
        if order.type in (OrderType.STOP, OrderType.TRAILING_STOP)
        else (order.stop_price),
        time_in_force=order.time_in_force,
    )
    ctx = risk.risk_context_build(
        account=account,
        instrument=instrument,
        draft=draft,
        quote=quote,
        now=now,
        exclude_order_id=[order.pk, *(s.pk for s in siblings)],
        own_commitment=_own_commitment(order, siblings),
        counting_checks=False,
    )
    decision = risk.risk_evaluate(draft, order.symbol, ctx)
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
        return order
    if decision.queue_for_open:
        if order.hold_reason != HoldReason.QUEUED_FOR_OPEN:
            order.hold_reason = HoldReason.QUEUED_FOR_OPEN
            order_record_event(
                order=order,
                event_type=OrderEventType.QUEUED_FOR_OPEN,
                actor=actor,
                data=payload,
                update_fields=["hold_reason"],
            )
            order_publish(order)
        return order
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
    enqueue_submit(order.pk)
    return order
