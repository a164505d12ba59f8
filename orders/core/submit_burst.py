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

Waking: after an order commits, `submit_wake` takes the main drainer's slot (slot 0,
`cache.add`: Redis SET NX) and sends its drain task; when the slot is taken, the drainer is
already due to look again. It frees its slot BEFORE its last look, so an order committed
before the free is seen by that look, and one committed after it finds the slot free and
wakes a drainer. Between bursts it pauses OMS_SUBMIT_POLL_MS, so what arrives meanwhile
makes one burst (fewer, larger bursts: the cost of a burst is mostly fixed).

Helpers: a drainer whose claim finds more than a burst still waiting wakes the other
OMS_SUBMIT_DRAINERS - 1 slots; a helper drains full bursts side by side with the main
drainer (skip-locked claims: never the same order) and leaves at its first burst that is
not full. Under a light load one drainer runs; under a backlog, all of them.

Pacing: a drainer that sees more than a burst still waiting after its own claim marks the
submission queue "behind" (BEHIND_KEY, a short TTL) and clears it when it has caught up. An
API placement for an in-process venue (`submission_pace`, after its commit) then holds its
answer until the queue has caught up (at most OMS_SUBMIT_PACE_MAX_MS): a client sending as
fast as it is answered slows to the rate its orders are filled, instead of the web taking
orders faster than the venue path fills them (a backlog, and fill times, growing without
bound). Nothing is refused and the order is stored before any wait.

Outside venues (Alpaca, Kite) keep one task per order: their cost is the network round
trip, sent between transactions (orders/core/submit.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
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
BEHIND_KEY = "oms:submit:behind"
BEHIND_TTL_S = 2  # a drainer that died while behind: the mark goes by itself
PACE_STEP_S = 0.02


def drainers() -> int:
    return max(1, int(settings.OMS_SUBMIT_DRAINERS))


def burst_max() -> int:
    return max(1, int(settings.OMS_SUBMIT_BURST_MAX))


def wake_ttl_s() -> int:
    """How long a slot stays taken by a drainer that died holding it: the next order after
    that wakes a new one (the pending_new sweeper sends what waits meanwhile)."""
    return max(1, int(settings.OMS_SUBMIT_WAKE_TTL_S))


def _inline() -> bool:
    from celery import current_app

    # The drain runs inline, in the committing caller: it must not wait.
    return bool(current_app.conf.task_always_eager)


def linger_s() -> float:
    return 0.0 if _inline() else max(0, int(settings.OMS_SUBMIT_LINGER_MS)) / 1000


def gather_s() -> float:
    """The pause after a burst that was not full, so what arrives meanwhile makes one."""
    return 0.0 if _inline() else poll_s()


def poll_s() -> float:
    return max(1, int(settings.OMS_SUBMIT_POLL_MS)) / 1000


def pace_max_s() -> float:
    return max(0, int(settings.OMS_SUBMIT_PACE_MAX_MS)) / 1000


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
    """Take the main drainer's slot and send its drain task; False when it is taken (the
    drainer is due to look again, and will see what is committed now)."""
    return _wake(slot=0)


def _wake(*, slot: int) -> bool:
    if cache.add(WAKE_KEY.format(slot=slot), 1, timeout=wake_ttl_s()):
        jobs.send(DRAIN_TASK, slot=slot)
        return True
    return False


def _wake_helpers() -> None:
    """Behind: each helper slot not taken gets a drain task."""
    for slot in range(1, drainers()):
        _wake(slot=slot)


# --- pacing -------------------------------------------------------------------------------


def submission_pace(*, orders: Iterable[Order]) -> float:
    """After commit, in an API request: when the submission queue is behind and one of
    `orders` waits in it, wait (up to OMS_SUBMIT_PACE_MAX_MS) until it has caught up.
    Returns the seconds waited. Never inside a transaction (it would hold its locks), never
    for orders that are not queued for an in-process venue."""
    limit = pace_max_s()
    if not limit or transaction.get_connection().in_atomic_block:
        return 0.0
    kinds = in_process_brokers()
    if not any(
        order.status == OrderStatus.PENDING_NEW and order.broker in kinds for order in orders
    ):
        return 0.0
    started = time.monotonic()
    while cache.get(BEHIND_KEY) and time.monotonic() - started < limit:
        time.sleep(PACE_STEP_S)
    return time.monotonic() - started


class _BehindMark:
    """This process's last word on BEHIND_KEY: written when the state changes (and again
    while behind, before the mark expires), not on every burst."""

    marked_at: float | None = None

    @classmethod
    def note(cls, *, behind: bool) -> None:
        now = time.monotonic()
        if behind:
            if cls.marked_at is None or now - cls.marked_at > BEHIND_TTL_S / 2:
                cache.set(BEHIND_KEY, 1, timeout=BEHIND_TTL_S)
                cls.marked_at = now
        elif cls.marked_at is not None:
            cls.clear()

    @classmethod
    def clear(cls) -> None:
        cache.delete(BEHIND_KEY)
        cls.marked_at = None


# --- draining -----------------------------------------------------------------------------


@dataclass
class Burst:
    """What one burst did: its size and the outcomes of the reports it applied."""

    orders: int = 0
    outcomes: list[str] = field(default_factory=list)
    behind: bool = False  # its claim saw more than another burst still waiting


def orders_submit_drain(*, slot: int) -> list[int]:
    """The drain task's body; returns the burst sizes.

    The main drainer (slot 0) bursts while orders keep coming — straight on after a full
    burst, after a pause of `OMS_SUBMIT_POLL_MS` otherwise — and lingers
    `OMS_SUBMIT_LINGER_MS` after the last one (a drainer already running costs less than a
    new task per burst), then frees its slot and looks once more. A helper (slot > 0)
    leaves at its first burst that is not full."""
    key = WAKE_KEY.format(slot=slot)
    helper = slot > 0
    limit = burst_max()
    deadline = time.monotonic() + drain_round_s()
    sizes: list[int] = []
    idle_since: float | None = None
    while True:
        burst = orders_submit_burst(limit=limit)
        if burst.behind:
            _wake_helpers()
        now = time.monotonic()
        if burst.orders:
            sizes.append(burst.orders)
            idle_since = None
        if helper and burst.orders < limit:
            cache.delete(key)
            return sizes
        if burst.orders:
            if now > deadline:  # hand over: a fresh task goes on, other work gets the process
                cache.delete(key)
                submit_wake()
                return sizes
            pause = gather_s() if burst.orders < limit else 0.0
            if pause:
                time.sleep(pause)  # what arrives meanwhile makes the next burst
            continue
        idle_since = now if idle_since is None else idle_since
        if now - idle_since < linger_s():
            time.sleep(poll_s())
            continue
        # Leaving, caught up: whichever drainer marked the queue behind, it is not now.
        _BehindMark.clear()
        # The slot is freed BEFORE the last look: an order committed before the
        # free found the slot taken (it woke nobody) and is seen by this look; one
        # committed after it takes the slot and wakes a drainer itself.
        cache.delete(key)
        burst = orders_submit_burst(limit=limit)
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
            orders, behind = _claim_pending(limit=limit)
            claimed = [order.pk for order in orders]
            if not orders:
                return Burst(behind=behind)
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
        return Burst(orders=len(claimed), outcomes=_submit_each(claimed), behind=behind)
    return Burst(orders=len(orders), outcomes=outcomes, behind=behind)


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


def _claim_pending(*, limit: int) -> tuple[list[Order], bool]:
    """The oldest pending, never-sent orders of in-process venues, row-locked in pk order
    (the fill path's lock order) with the locked ones skipped; each recorded `submitted`.
    And whether more than another burst is waiting after these (the queue is behind)."""
    pending = Order.objects.filter(
        status=OrderStatus.PENDING_NEW,
        submitted_at__isnull=True,
        broker__in=in_process_brokers(),
    )
    oldest = list(pending.order_by("updated_at").values_list("pk", flat=True)[: limit * 2])
    behind = len(oldest) >= limit * 2  # a full window: a burst more waits after this one
    _BehindMark.note(behind=behind)
    if not oldest:
        return [], behind
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
        return [], behind
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
    return orders, behind


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
