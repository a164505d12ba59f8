"""The time-driven jobs around submission: the pending_new sweeper, day/gtd expiry, and
the release of orders queued for the market open (beat tasks in orders/core/tasks.py)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from marketdata.calendar import is_market_open
from oms_site.errors import ApplicationError
from orders.core import jobs
from orders.core.cancel import order_cancel
from orders.core.lifecycle import actor_system
from orders.core.release import order_release
from orders.core.submit import SUBMIT_TASK
from orders.models import OPEN_STATUSES, HoldReason, Order, OrderEventType, OrderStatus

logger = logging.getLogger(__name__)

SWEEPER_ACTOR = actor_system("sweeper")
EXPIRY_ACTOR = actor_system("expiry")
OPEN_ACTOR = actor_system("market_open")

JOB_BATCH = 500


def sweep_after() -> timedelta:
    return timedelta(seconds=getattr(settings, "OMS_SWEEP_PENDING_AFTER_S", 15))


def orders_sweep_pending_new(*, now: datetime | None = None) -> list[str]:
    """Re-enqueue orders stuck in pending_new (a worker died between commit and submit, or
    the submission got no answer). Each is claimed by bumping updated_at (compare-and-set),
    so overlapping sweeps enqueue an order once."""
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
            jobs.send(SUBMIT_TASK, str(order_id), resubmit=True, reason=reason)
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
