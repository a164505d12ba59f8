"""Getting orders to the venue: the submission (the execution task's body) and its
enqueueing after the placing transaction commits. The periodic jobs around it (the
pending_new sweeper, expiry, the open's release) are orders/core/sweeps.py."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from execution.protocol import (
    BrokerUnavailableError,
    OrderRequest,
    PermanentBrokerError,
    TransientBrokerError,
)
from execution.services import broker_in_process, broker_submit
from oms_site.locks import lock_one_or_none
from orders.core import jobs
from orders.core.lifecycle import actor_system, order_record_event, order_transition
from orders.core.publish import order_publish
from orders.core.reports import order_apply_reports
from orders.models import (
    Order,
    OrderEventType,
    OrderStatus,
)

logger = logging.getLogger(__name__)

SUBMIT_ACTOR = actor_system("submitter")
SUBMIT_TASK = "orders.submit"


def enqueue_submit(order_id: object, *, resubmit: bool = False) -> None:
    """After commit: hand the order to the execution queue."""
    order_id = str(order_id)
    jobs.enqueue(
        SUBMIT_TASK,
        order_id,
        resubmit=resubmit,
        what=f"order {order_id}",
        recovery="the pending_new sweeper submits it",
    )


def order_request_build(order: Order) -> OrderRequest:
    return OrderRequest(
        order_id=str(order.pk),
        account_id=str(order.account_id),
        broker=order.broker,
        symbol=order.symbol,
        side=order.side,
        type=order.venue_type,
        qty=order.qty,
        limit_price=order.limit_price if order.venue_type == "limit" else None,
        time_in_force=order.time_in_force,
        display_qty=order.display_qty,
        expire_at=order.expire_at,
        filled_qty=order.filled_qty,
        version=order.version,
    )


def _claim_for_submit(
    *, order_id: object, resubmit: bool, reason: str = ""
) -> tuple[Order, OrderRequest] | None:
    """Lock the order and record its (re)submission; runs in order_submit's transaction.

    A re-send by the sweeper is always a `resubmitted` event naming why, also when no
    earlier `submitted` event exists (an in-process venue's first attempt rolled back with
    its worker, or its message never reached one): the trail shows the order was rescued."""
    order = lock_one_or_none(Order.objects, pk=order_id)
    if order is None or order.status != OrderStatus.PENDING_NEW:
        return None  # vanished, canceled meanwhile, or already answered: nothing to do
    if order.submitted_at is not None and not resubmit:
        return None  # another worker has it (the sweeper re-sends if it got lost)
    if not order.broker:
        order.broker = order.account.broker
    first = order.submitted_at is None
    order.submitted_at = timezone.now()
    data: dict[str, object] = {"broker": order.broker}
    if resubmit:
        data["reason"] = reason or "re-sent by the sweeper"
        data["earlier_attempt_recorded"] = not first
    order_record_event(
        order=order,
        event_type=OrderEventType.RESUBMITTED if resubmit else OrderEventType.SUBMITTED,
        actor=SUBMIT_ACTOR,
        data=data,
        update_fields=["submitted_at", "broker"],
    )
    return order, order_request_build(order)


def order_submit(*, order_id: object, resubmit: bool = False, reason: str = "") -> list[str]:
    """Send a pending_new order to its account's venue and apply the answer.

    Safe to run twice (the sweeper and a re-delivered task may): the claim is made under
    the row lock and `broker_submit` is idempotent by order id. Broker unavailable →
    the order is rejected with reason `broker_unavailable`; the venue refusing for good →
    rejected with `broker_error`. Returns the outcomes of the applied reports.

    An outside venue is called between transactions: the claim commits first (so a crash
    after sending is seen as "submitted"), the answer is applied in its own. An in-process
    venue (paper, the internal exchange) writes in this database, so claim, venue and
    answer commit together in ONE transaction — or not at all, and the sweeper re-sends
    the order still pending_new — two commits fewer per order, and the order row locked
    once.
    """
    with transaction.atomic():
        claimed = _claim_for_submit(order_id=order_id, resubmit=resubmit, reason=reason)
        if claimed is None:
            return []
        order, request = claimed
        if broker_in_process(request.broker):
            return _send(order_id=order_id, request=request, locked=order)
    return _send(order_id=order_id, request=request, locked=None)


def _send(*, order_id: object, request: OrderRequest, locked: Order | None) -> list[str]:
    """Submit to the venue and apply its answer; `locked` is the order when this runs in
    the claim's transaction (its row lock and instance are still good)."""
    try:
        reports = broker_submit(request)
    except BrokerUnavailableError as exc:
        _reject_unsent(order_id=order_id, reason=f"broker_unavailable: {exc}")
        return []
    except PermanentBrokerError as exc:
        _reject_unsent(order_id=order_id, reason=f"broker_error: {exc}")
        return []
    except TransientBrokerError as exc:
        # Normally retried inside broker_submit; one that escapes leaves the order
        # pending_new with submitted_at set, and the sweeper sends it again.
        logger.warning("Submission of order %s failed transiently: %s", order_id, exc)
        return []
    return order_apply_reports(reports, locked=[locked] if locked is not None else ())


@transaction.atomic
def _reject_unsent(*, order_id: object, reason: str) -> None:
    order = lock_one_or_none(Order.objects, pk=order_id)
    if order is None or order.status != OrderStatus.PENDING_NEW:
        return
    reject_unsent_locked(order, reason=reason)


def reject_unsent_locked(order: Order, *, reason: str) -> None:
    """Reject a pending_new order the venue never took (row locked by the caller)."""
    order.reject_reason = reason[:300]
    order_transition(
        order=order,
        to_status=OrderStatus.REJECTED,
        event_type=OrderEventType.REJECTED,
        actor=SUBMIT_ACTOR,
        data={"reason": order.reject_reason},
        update_fields=["reject_reason"],
    )
    order_publish(order)
