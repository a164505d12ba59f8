"""Canceling orders: one order (held or not yet sent: at once; live: through the venue),
and every open order of an account.

A held order (OMS-side only) is canceled at once. A live one is recorded pending_cancel and
committed, the venue is called outside any transaction, and what it answers is applied
through `order_apply_reports`. When the venue cannot be reached the request is rolled back
with an audit event and the caller gets 503 `broker_unavailable`. The cancel hooks
(orders/core/hooks.py) take part: an algo parent stops and its children are withdrawn.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from accounts.models import ApiKey, TradingAccount, User
from accounts.selectors import account_get_for_user
from execution.protocol import BrokerUnavailableError, PermanentBrokerError
from execution.services import broker_cancel
from oms_site.errors import ApplicationError, BrokerUnavailable
from oms_site.locks import lock_one
from orders.core.hooks import cancel_hooks
from orders.core.lifecycle import Actor, actor_for, closed_error, order_transition
from orders.core.publish import order_publish
from orders.core.reports import order_apply_reports, working_status
from orders.core.selectors import order_get_for_user
from orders.core.trigger_store import triggers_cancel_for_order
from orders.models import OPEN_STATUSES, TERMINAL_STATUSES, Order, OrderEventType, OrderStatus


def order_cancel(
    *,
    user: User | None,
    api_key: ApiKey | None = None,
    actor: Actor | None = None,
    order_id: object,
    reason: str = "user",
) -> Order:
    """Cancel: held (or not yet sent) → canceled at once; live → pending_cancel, then the
    venue's answer. Terminal → 409 invalid_state; already pending_cancel → returned as is.

    A fill racing the cancel wins: both take the order's row lock, so either the fill lands
    first (the cancel then finds it filled → 409, or cancels only the rest) or the cancel
    does (the fill still counts; the venue then cancels the rest or refuses the cancel).
    reason="expired" makes the outcome `expired` (the expiry job).
    """
    if user is not None:
        order_get_for_user(user=user, order_id=order_id, level="trade")
    actor = actor or actor_for(user=user, api_key=api_key)
    order, send = _cancel_locked(order_id=order_id, actor=actor, reason=reason)
    for hook in cancel_hooks():
        if hook.canceled is not None:
            hook.canceled(order)
    if not send:
        return order
    try:
        reports = broker_cancel(
            order_id=str(order.pk),
            account_id=str(order.account_id),
            symbol=order.symbol,
            broker=order.broker or order.account.broker,
        )
    except (BrokerUnavailableError, PermanentBrokerError) as exc:
        _cancel_abandon(order_id=order.pk, actor=actor, reason=f"broker_unavailable: {exc}")
        raise BrokerUnavailable(
            f"The broker cannot be reached: {exc}", extra={"order_id": str(order.pk)}
        ) from exc
    order_apply_reports(reports)
    return Order.objects.get(pk=order.pk)


@transaction.atomic
def _cancel_locked(*, order_id: object, actor: Actor, reason: str) -> tuple[Order, bool]:
    """Returns (order, whether the venue must be asked)."""
    order = lock_one(Order.objects, pk=order_id)
    if order.status in TERMINAL_STATUSES:
        raise closed_error(order, "canceled")
    if order.status == OrderStatus.PENDING_CANCEL:
        return order, False
    expiring = reason == "expired"
    local = (
        order.status == OrderStatus.HELD
        or (order.status == OrderStatus.PENDING_NEW and order.submitted_at is None)
        or bool(order.algo)  # an algo parent lives in OMS only; its children are withdrawn
    )
    if local:
        triggers_cancel_for_order(order=order)
        order.cancel_reason = reason[:32]
        fields = ["cancel_reason"]
        for hook in cancel_hooks():
            if hook.locked is not None:
                fields += hook.locked(order)
        order_transition(
            order=order,
            to_status=OrderStatus.EXPIRED if expiring else OrderStatus.CANCELED,
            event_type=OrderEventType.EXPIRED if expiring else OrderEventType.CANCELED,
            actor=actor,
            data={"reason": reason},
            update_fields=fields,
        )
        order_publish(order)
        return order, False
    order.cancel_reason = reason[:32]
    order_transition(
        order=order,
        to_status=OrderStatus.PENDING_CANCEL,
        event_type=OrderEventType.CANCEL_REQUESTED,
        actor=actor,
        data={"reason": reason},
        update_fields=["cancel_reason"],
    )
    order_publish(order)
    return order, True


@transaction.atomic
def _cancel_abandon(*, order_id: object, actor: Actor, reason: str) -> None:
    order = lock_one(Order.objects, pk=order_id)
    if order.status != OrderStatus.PENDING_CANCEL:
        return
    order.cancel_reason = ""
    order_transition(
        order=order,
        to_status=working_status(order),
        event_type=OrderEventType.CANCEL_REJECTED,
        actor=actor,
        data={"reason": reason},
        update_fields=["cancel_reason"],
    )
    order_publish(order)


@dataclass
class CancelAllResult:
    canceled: list[str]
    failed: list[dict[str, str]]


def order_cancel_all(
    *,
    user: User | None,
    api_key: ApiKey | None = None,
    actor: Actor | None = None,
    account_id: object,
    symbol: str | None = None,
) -> CancelAllResult:
    """Cancel every open order of an account (optionally one symbol), each on its own.

    `canceled`: ids now pending_cancel or canceled; `failed`: ids the venue could not be
    asked about (broker unavailable) or that closed meanwhile, with the error code.
    """
    if user is not None:
        account = account_get_for_user(user=user, account_id=account_id, level="trade")
    else:
        account = TradingAccount.objects.get(pk=account_id)
    actor = actor or actor_for(user=user, api_key=api_key)
    qs = Order.objects.filter(account=account, status__in=OPEN_STATUSES).exclude(
        status=OrderStatus.PENDING_CANCEL
    )
    if symbol:
        qs = qs.filter(symbol=symbol.strip().upper())
    result = CancelAllResult(canceled=[], failed=[])
    for order_id in qs.order_by("created_at", "id").values_list("id", flat=True):
        try:
            order = order_cancel(user=None, actor=actor, order_id=order_id)
        except ApplicationError as exc:
            result.failed.append({"id": str(order_id), "code": exc.code, "message": exc.message})
            continue
        if order.status in (OrderStatus.PENDING_CANCEL, OrderStatus.CANCELED):
            result.canceled.append(str(order_id))
    return result
