"""Submitting in bursts to the in-process venues (paper, the internal exchange).

One Celery task per order — its own message, connection checkout, transaction and venue
call — was the order path's biggest fixed cost. Instead, the orders waiting for an
in-process venue are drained in bursts: a drainer takes every such order still pending
(`pending_new`, never sent; up to OMS_SUBMIT_BURST_MAX) and, in ONE transaction, claims
them, calls the venue for each and applies all their reports together
(`order_apply_reports`: orders, accounts and positions each locked once, in pk order).

The database is the queue: a pending order IS the work, so nothing is lost when a drainer
dies mid-burst (its transaction rolls back; the orders stay pending for the next burst or
the pending_new sweeper), and a burst delivered twice finds its orders already claimed.

Waking: after an order commits, `submit_wake` takes one of OMS_SUBMIT_DRAINERS slots
(`cache.add`: Redis SET NX) and sends a drain task for it; when every slot is taken, a
drainer is already due to look again. A drainer frees its slot BEFORE each look, so an
order committed before the free is seen by that look, and one committed after it finds a
free slot and wakes a drainer. Outside venues (Alpaca, Kite) keep one task per order:
their cost is the network round trip, sent between transactions (orders/core/submit.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.models import TradingAccount
from execution.protocol import (
    BrokerUnavailableError,
    ExecutionReport,
    PermanentBrokerError,
    TransientBrokerError,
)
from execution.services import broker_submit_burst, in_process_brokers
from notifications.services import publishing_together, pushes_sent_together
from oms_site.locks import lock_rows
from oms_site.task_enqueue import enqueue_after_commit
from orders.core import jobs
from orders.core.lifecycle import order_events_together, orders_record_event
from orders.core.reports import order_apply_reports
from orders.core.submit import (
    SUBMIT_ACTOR,
    enqueue_submit,
    order_request_build,
    order_submit,
    reject_unsent_locked,
)
from orders.models import Order, OrderEventType, OrderStatus

logger = logging.getLogger(__name__)

DRAIN_TASK = "orders.submit_drain"
WAKE_KEY = "oms:submit:wake:{slot}"


def drainers() -> int:
    return max(1, int(settings.OMS_SUBMIT_DRAINERS))


def burst_max() -> int:
    return max(1, int(settings.OMS_SUBMIT_BURST_MAX))


def wake_ttl_s() -> int:
    """How long a slot stays taken by a drainer that died holding it: the next order after
    that wakes a new one (the pending_new sweeper sends what waits meanwhile)."""
    return max(1, int(settings.OMS_SUBMIT_WAKE_TTL_S))


def linger_s() -> float:
    from celery import current_app

    if current_app.conf.task_always_eager:
        return 0.0  # the drain runs inline, in the committing caller: it must not wait
    return max(0, int(settings.OMS_SUBMIT_LINGER_MS)) / 1000


def poll_s() -> float:
    return max(1, int(settings.OMS_SUBMIT_POLL_MS)) / 1000


def drain_round_s() -> int:
    """A drainer hands over (re-wakes, exits) after this long, so one task never holds a
    worker process for good under sustained load."""
    return max(1, int(settings.OMS_SUBMIT_DRAIN_ROUND_S))


# --- waking -------------------------------------------------------------------------------


def enqueue_submission(order: Order) -> None:
    """After commit: get a pending_new order to its venue — a drainer's next burst for an
    in-process venue, its own task for an outside one."""
    if order.broker not in in_process_brokers():
        enqueue_submit(order.pk)
        return
    enqueue_after_commit(
        submit_wake,
        what=f"order {order.pk}",
        recovery="the next order's wake or the pending_new sweeper submits it",
    )


def submit_wake() -> bool:
    """Take a free drainer slot and send its drain task; False when all are taken (a
    drainer is due to look again, and will see what is committed now)."""
    for slot in range(drainers()):
        if cache.add(WAKE_KEY.format(slot=slot), 1, timeout=wake_ttl_s()):
            jobs.send(DRAIN_TASK, slot=slot)
            return True
    return False


# --- draining -----------------------------------------------------------------------------


@dataclass
class Burst:
    """What one burst did: its size and the outcomes of the reports it applied."""

    orders: int = 0
    outcomes: list[str] = field(default_factory=list)


def orders_submit_drain(*, slot: int) -> list[int]:
    """The drain task's body; returns the burst sizes. Bursts while orders keep coming,
    lingering `OMS_SUBMIT_LINGER_MS` after the last one and looking every
    `OMS_SUBMIT_POLL_MS` (a drainer already running costs less than a new task per burst,
    and what arrives meanwhile makes one burst), then frees its slot and looks once more."""
    key = WAKE_KEY.format(slot=slot)
    deadline = time.monotonic() + drain_round_s()
    sizes: list[int] = []
    idle_since: float | None = None
    while True:
        burst = orders_submit_burst(limit=burst_max())
        now = time.monotonic()
        if burst.orders:
            sizes.append(burst.orders)
            idle_since = None
            if now > deadline:  # hand over: a fresh task goes on, other work gets the process
                cache.delete(key)
                submit_wake()
                return sizes
            continue
        idle_since = now if idle_since is None else idle_since
        if now - idle_since < linger_s():
            time.sleep(poll_s())
            continue
        # Leaving. The slot is freed BEFORE the last look: an order committed before the
        # free found the slot taken (it woke nobody) and is seen by this look; one
        # committed after it takes the slot and wakes a drainer itself.
        cache.delete(key)
        burst = orders_submit_burst(limit=burst_max())
        if not burst.orders:
            return sizes
        sizes.append(burst.orders)
        if not cache.add(key, 1, timeout=wake_ttl_s()):
            return sizes  # a newer drainer has the slot and goes on
        idle_since = None


def orders_submit_burst(*, limit: int) -> Burst:
    """Claim up to `limit` pending orders of the in-process venues, send each to its venue
    and apply all their reports — in one transaction. Locked rows (another drainer's
    burst, a cancel in progress) are skipped, never waited for.

    A burst that fails as a whole (a bug or a database error while applying) is rolled
    back and its orders are submitted one by one, each in its own transaction, so one bad
    order never holds the others back (and its own failure is logged where it happens)."""
    with pushes_sent_together():  # the burst's pushes and its commit hooks': one send
        return _submit_burst(limit=limit)


def _submit_burst(*, limit: int) -> Burst:
    claimed: list[object] = []
    try:
        with transaction.atomic(), publishing_together(), order_events_together():
            orders = _claim_pending(limit=limit)
            claimed = [order.pk for order in orders]
            if not orders:
                return Burst()
            reports: list[ExecutionReport] = []
            answered: list[Order] = []
            for broker, group in _by_broker(orders).items():
                for order, sent in zip(group, _send_burst(broker, group), strict=True):
                    if sent is not None:
                        reports.extend(sent)
                        answered.append(order)
            outcomes = order_apply_reports(reports, locked=answered)
    except Exception:
        if not claimed:
            raise
        logger.exception("A burst of %d orders failed; submitting them one by one", len(claimed))
        return Burst(orders=len(claimed), outcomes=_submit_each(claimed))
    return Burst(orders=len(orders), outcomes=outcomes)


def _submit_each(order_ids: list[object]) -> list[str]:
    outcomes: list[str] = []
    for order_id in order_ids:
        try:
            outcomes.extend(order_submit(order_id=order_id))
        except Exception:
            # This order's own failure, logged with its traceback. It is marked sent so the
            # bursts stop taking it (each would fail again); the pending_new sweeper sends
            # it again later on its own, as for any submission that got no answer.
            logger.exception("Submitting order %s on its own failed", order_id)
            Order.objects.filter(
                pk=order_id, status=OrderStatus.PENDING_NEW, submitted_at__isnull=True
            ).update(submitted_at=timezone.now())
    return outcomes


def _claim_pending(*, limit: int) -> list[Order]:
    """The oldest pending, never-sent orders of in-process venues, row-locked in pk order
    (the fill path's lock order) with the locked ones skipped; each recorded `submitted`."""
    pending = Order.objects.filter(
        status=OrderStatus.PENDING_NEW,
        submitted_at__isnull=True,
        broker__in=in_process_brokers(),
    )
    oldest = list(pending.order_by("updated_at").values_list("pk", flat=True)[: limit * 2])
    if not oldest:
        return []
    # Locked by primary key alone, the conditions checked on the locked rows: with them in
    # the locking query MariaDB may scan a status index and keep that index's records
    # locked — for orders another burst holds and is about to update — a deadlock.
    kinds = set(in_process_brokers())
    orders = [
        order
        for order in lock_rows(Order.objects.filter(pk__in=oldest), skip_locked=True, limit=limit)
        if order.status == OrderStatus.PENDING_NEW
        and order.submitted_at is None
        and order.broker in kinds
    ]
    if not orders:
        return []
    # Their accounts in one read, not one each when an answer names the account.
    accounts = TradingAccount.objects.in_bulk({order.account_id for order in orders})
    for order in orders:
        order.account = accounts[order.account_id]
    now = timezone.now()
    for broker, group in _by_broker(orders).items():
        orders_record_event(
            orders=group,
            event_type=OrderEventType.SUBMITTED,
            actor=SUBMIT_ACTOR,
            data={"broker": broker, "burst": len(orders)},
            values={"submitted_at": now},
        )
    return orders


def _by_broker(orders: list[Order]) -> dict[str, list[Order]]:
    groups: dict[str, list[Order]] = {}
    for order in orders:
        groups.setdefault(order.broker, []).append(order)
    return groups


def _send_burst(broker: str, orders: list[Order]) -> list[list[ExecutionReport] | None]:
    """The venue's answer for each order of the burst; None for one answered here instead
    (rejected: the venue unavailable or refusing it) or left to the sweeper."""
    try:
        answers = broker_submit_burst(
            broker=broker, requests=[order_request_build(order) for order in orders]
        )
    except BrokerUnavailableError as exc:
        for order in orders:
            reject_unsent_locked(order, reason=f"broker_unavailable: {exc}")
        return [None] * len(orders)
    except TransientBrokerError as exc:
        # Left pending_new with submitted_at set: the sweeper sends them again.
        logger.warning("Submission of a burst of %d failed transiently: %s", len(orders), exc)
        return [None] * len(orders)
    sent: list[list[ExecutionReport] | None] = []
    for order, answer in zip(orders, answers, strict=True):
        if isinstance(answer, PermanentBrokerError):
            reject_unsent_locked(order, reason=f"broker_error: {answer}")
            sent.append(None)
        else:
            sent.append(answer)
    return sent
