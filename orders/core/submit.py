"""Getting orders to the venue and the time-driven jobs: submission (the execution task's
body), the pending_new sweeper, day/gtd expiry, and the release of orders queued for the
market open."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from execution.protocol import (
    BrokerUnavailableError,
    OrderRequest,
    PermanentBrokerError,
    TransientBrokerError,
)
from execution.services import broker_in_process, broker_submit
from marketdata.calendar import is_market_open
from oms_site.errors import ApplicationError
from orders.core.lifecycle import actor_system, order_record_event, order_transition
from orders.core.publish import order_publish
from orders.core.reports import order_apply_reports
from orders.models import (
    OPEN_STATUSES,
    HoldReason,
    Order,
    OrderEventType,
    OrderStatus,
)

logger = logging.getLogger(__name__)

SUBMIT_ACTOR = actor_system("submitter")
SWEEPER_ACTOR = actor_system("sweeper")
EXPIRY_ACTOR = actor_system("expiry")
OPEN_ACTOR = actor_system("market_open")

JOB_BATCH = 500


def sweep_after() -> timedelta:
    return timedelta(seconds=getattr(settings, "OMS_SWEEP_PENDING_AFTER_S", 15))


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
    order = Order.objects.select_for_update().filter(pk=order_id).first()
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
    order = Order.objects.select_for_update().filter(pk=order_id).first()
    if order is None or order.status != OrderStatus.PENDING_NEW:
        return
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


def orders_sweep_pending_new(*, now: datetime | None = None) -> list[str]:
    """Re-enqueue orders stuck in pending_new (a worker died between commit and submit, or
    the submission got no answer). Each is claimed by bumping updated_at (compare-and-set),
    so overlapping sweeps enqueue an order once."""
    from orders.tasks import order_submit_task

    now = now or timezone.now()
    cutoff = now - sweep_after()
    stuck = list(
        Order.objects.filter(status=OrderStatus.PENDING_NEW, updated_at__lt=cutoff)
        .order_by("updated_at")
        .values_list("id", "updated_at", "submitted_at")[:JOB_BATCH]
    )
    enqueued: list[str] = []
    for order_id, updated_at, submitted_at in stuck:
        claimed = Order.objects.filter(
            pk=order_id, status=OrderStatus.PENDING_NEW, updated_at__lt=cutoff
        ).update(updated_at=now)
        if claimed:
            reason = _stuck_reason(idle_s=(now - updated_at).total_seconds(), sent=submitted_at)
            logger.warning("Sweeper re-enqueues order %s: %s", order_id, reason)
            order_submit_task.delay(str(order_id), resubmit=True, reason=reason)
            enqueued.append(str(order_id))
    return enqueued


def _stuck_reason(*, idle_s: float, sent: datetime | None) -> str:
    if sent is None:
        why = (
            "no submission committed (a worker stopped mid-submission, or the message "
            "was lost or never enqueued)"
        )
    else:
        why = "sent, but no answer from the venue"
    return f"pending_new for {idle_s:.0f} s: {why}"


def orders_expire_due(*, now: datetime | None = None) -> list[str]:
    """Expire open orders whose `good_till` passed (day orders at their session close —
    SIM's day is the UTC calendar day — and gtd orders at expire_at). Held ones expire at
    once; live ones get a venue cancel whose answer makes them `expired`."""
    from orders.core.manage import order_cancel

    now = now or timezone.now()
    due = list(
        Order.objects.filter(status__in=OPEN_STATUSES, good_till__lte=now)
        .exclude(status=OrderStatus.PENDING_CANCEL)
        .order_by("good_till")
        .values_list("id", flat=True)[:JOB_BATCH]
    )
    done: list[str] = []
    for order_id in due:
        try:
            order_cancel(user=None, actor=EXPIRY_ACTOR, order_id=order_id, reason="expired")
        except ApplicationError as exc:  # filled meanwhile / venue down: next run retries
            logger.warning("Could not expire order %s: %s", order_id, exc.message)
            continue
        done.append(str(order_id))
    return done


def orders_release_queued_for_open(*, now: datetime | None = None) -> list[str]:
    """Release orders queued outside market hours once their market is open."""
    from orders.core.release import order_release

    now = now or timezone.now()
    queued = (
        Order.objects.filter(status=OrderStatus.HELD, hold_reason=HoldReason.QUEUED_FOR_OPEN)
        .select_related("instrument__exchange")
        .order_by("created_at")[:JOB_BATCH]
    )
    released: list[str] = []
    open_cache: dict[str, bool] = {}
    for order in queued:
        exchange = order.instrument.exchange_id
        if exchange not in open_cache:
            open_cache[exchange] = is_market_open(instrument_or_exchange=order.instrument, at=now)
        if not open_cache[exchange]:
            continue
        result = order_release(
            order_id=order.pk,
            actor=OPEN_ACTOR,
            event_type=OrderEventType.RELEASED,
            data={"reason": "market_open"},
        )
        if result is not None and result.status == OrderStatus.PENDING_NEW:
            released.append(str(order.pk))
    return released
