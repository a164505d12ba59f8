"""Applying execution reports: the one idempotent path from any venue to order state.

`order_apply_reports(reports)` is registered as execution's report sink in
OrdersConfig.ready() (a venue hands over each burst of reports it produces together), and
the submit/modify/cancel services feed it the reports a venue answers synchronously. Per
burst, in one transaction: lock the order rows, skip report ids already applied
(ProcessedReport), book the fills in the ledger (pnl.services.fills_record), update each
order through the lifecycle, push `order.updated` / `fill.created` on commit. Applying
the same report twice changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from execution.protocol import ExecutionReport, ReportType
from notifications.services import PublishBatch, publish_batch
from oms_site.api import format_decimal
from oms_site.compiled_query import insert_new
from oms_site.locks import lock_rows
from orders.core.external_match import external_reports_resolve
from orders.core.lifecycle import (
    SYSTEM_VENUE,
    can_transition,
    is_automated,
    order_record_event,
    order_transition,
    weighted_average,
)
from orders.core.publish import order_publish
from orders.core.trigger_store import triggers_cancel_for_order
from orders.core.values import decimal_or_none
from orders.models import (
    TERMINAL_STATUSES,
    Order,
    OrderEventType,
    OrderStatus,
    ProcessedReport,
)
from pnl.models import Fill
from pnl.pushes import fill_publish
from pnl.services import FillInput, fills_record

logger = logging.getLogger(__name__)

ZERO = Decimal("0")

# Outcomes recorded on ProcessedReport (and returned, for tests and logs).
APPLIED = "applied"
IGNORED = "ignored"
DUPLICATE = "duplicate"
UNKNOWN_ORDER = "unknown_order"


def order_apply_report(report: ExecutionReport) -> str:
    """Apply one execution report; returns applied | ignored | duplicate | unknown_order."""
    return order_apply_reports([report])[0]


def order_apply_reports(
    reports: Sequence[ExecutionReport], *, locked: Iterable[Order] = ()
) -> list[str]:
    """Apply a venue's reports (one answer, one exchange command, one tick's fills) in ONE
    transaction; returns one outcome per report, in order.

    The same result as applying them one by one, for fewer statements: the orders are
    locked once, in primary-key order; one query finds the report ids already applied;
    the fills are booked together through `pnl.services.fills_record` (accounts, then
    positions locked in pk order, grouped writes); the ProcessedReport rows go in one
    INSERT; each applied report pushes its order's new state, on commit. A failure rolls
    back all of it, so a retry applies all of it.

    `locked`: orders the caller already holds row-locked in its open transaction, their
    instances current (order_submit's claim): used as they are, not read again.
    """
    reports = list(reports)
    if not reports:
        return []
    with transaction.atomic():
        # Reports for orders placed outside OMS (order_id "", data.external): imported and
        # pointed at their OMS order here, never dropped (orders/core/external_match.py).
        reports = external_reports_resolve(reports)
        pushes = publish_batch()  # this burst's pushes, in order, sent together on commit
        orders = _orders_locked(reports, held={order.pk: order for order in locked})
        outcomes: list[str] = [DUPLICATE] * len(reports)
        done = set(
            ProcessedReport.objects.filter(
                pk__in={report.report_id for report in reports}
            ).values_list("pk", flat=True)
        )
        todo: list[tuple[int, ExecutionReport, Order]] = []
        for index, report in enumerate(reports):
            order = orders.get(_order_pk(report))
            if order is None:
                logger.error(
                    "Execution report %s names unknown order %s", report.report_id, report.order_id
                )
                outcomes[index] = UNKNOWN_ORDER
            elif report.report_id not in done:
                done.add(report.report_id)  # a report repeated inside the batch is a duplicate
                todo.append((index, report, order))
        # What comes before an order's first fill (its acknowledgement) is applied before
        # the fills are booked: booking locks the accounts (until commit), and a placement
        # on one of them waits for that lock, so the less that runs after it the better.
        early, late = _before_first_fill(todo)
        processed: list[ProcessedReport] = []
        _apply_all(early, {}, pushes, outcomes, processed)
        fills = _fills_book([(report, order) for _, report, order in todo])
        _apply_all(late, fills, pushes, outcomes, processed)
        insert_new(processed)
    return outcomes


def _apply_all(
    items: list[tuple[int, ExecutionReport, Order]],
    fills: dict[str, Fill],
    pushes: PublishBatch,
    outcomes: list[str],
    processed: list[ProcessedReport],
) -> None:
    for index, report, order in items:
        # The change hooks run inside (orders/core/hooks.py) touch only rows no report
        # names: every order of the batch is its one locked instance.
        outcome = _apply_one(order, report, fills, pushes)
        outcomes[index] = outcome
        processed.append(
            ProcessedReport(
                report_id=report.report_id, order=order, type=report.type, outcome=outcome
            )
        )
        if outcome == APPLIED:
            order_publish(order, batch=pushes)  # each state the order passes through


def _before_first_fill(
    todo: list[tuple[int, ExecutionReport, Order]],
) -> tuple[list[tuple[int, ExecutionReport, Order]], list[tuple[int, ExecutionReport, Order]]]:
    """(each order's reports before its first fill, the rest), both in report order: an
    order's reports still apply in their order, and the orders of a batch do not touch
    each other. An automated order's reports all stay after the booking: its hooks may
    place orders, whose account locks must come after the booking's (pk order)."""
    filled: set[Any] = set()
    early, late = [], []
    for item in todo:
        _, report, order = item
        if report.type in FILL_TYPES or is_automated(order):
            filled.add(order.pk)
        (late if order.pk in filled else early).append(item)
    return early, late


def _order_pk(report: ExecutionReport) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(report.order_id))
    except ValueError:
        return None


def _orders_locked(reports: list[ExecutionReport], *, held: dict[Any, Order]) -> dict[Any, Order]:
    """The reports' orders, row-locked in primary-key order (the fill path's lock order:
    orders, then accounts, then positions, each by pk); `held` ones are already locked."""
    orders = {pk: order for pk, order in held.items()}
    pks = {pk for pk in map(_order_pk, reports) if pk is not None} - orders.keys()
    if pks:
        orders.update((order.pk, order) for order in lock_rows(Order.objects.filter(pk__in=pks)))
    return orders


def _fill_valid(report: ExecutionReport) -> bool:
    qty, price = report.fill_qty, report.fill_price
    if qty is None or price is None or qty <= 0 or price < 0:
        logger.error(
            "Fill report %s has no valid qty/price (%s @ %s)", report.report_id, qty, price
        )
        return False
    return True


def _fills_book(items: list[tuple[ExecutionReport, Order]]) -> dict[str, Fill]:
    """Book the valid fills of the batch in one go, whatever their orders' status (a late
    fill is still booked: the ledger holds what the venue did). Report id -> Fill."""
    inputs = [
        FillInput(
            order_id=order.pk,
            account_id=order.account_id,
            instrument_id=order.instrument_id,
            symbol=order.symbol,
            side=order.side,
            qty=report.fill_qty,
            price=report.fill_price,
            fee=report.fee or ZERO,
            liquidity=report.liquidity or None,
            ts=report.ts or timezone.now(),
            report_id=report.report_id,
            trade_id=report.trade_id,
            tag=order.tag or "",
        )
        for report, order in items
        if report.type in FILL_TYPES and _fill_valid(report)
    ]
    if not inputs:
        return {}
    return {fill.report_id: fill for fill in fills_record(fills=inputs)}


def _apply_one(
    order: Order, report: ExecutionReport, fills: dict[str, Fill], pushes: PublishBatch
) -> str:
    if report.type in FILL_TYPES:
        fill = fills.get(report.report_id)
        return IGNORED if fill is None else _on_fill(order, report, fill, pushes)
    handler = _HANDLERS.get(report.type)
    if handler is None:
        logger.error("Execution report %s has unknown type %r", report.report_id, report.type)
        return IGNORED
    return handler(order, report)


def _data(report: ExecutionReport, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"report_id": report.report_id}
    if report.reason:
        data["reason"] = report.reason
    if report.leaves_qty is not None:
        data["leaves_qty"] = report.leaves_qty
    data.update(extra)
    return data


def working_status(order: Order) -> str:
    """Where an order goes back to when its cancel is refused."""
    if order.filled_qty > 0:
        return OrderStatus.PARTIALLY_FILLED
    if order.accepted_at is not None:
        return OrderStatus.NEW
    return OrderStatus.PENDING_NEW


def _on_ack(order: Order, report: ExecutionReport) -> str:
    if order.accepted_at is not None or order.status in TERMINAL_STATUSES:
        return IGNORED
    order.accepted_at = report.ts or timezone.now()
    if report.broker_order_id:
        order.broker_order_id = report.broker_order_id
    fields = ["accepted_at", "broker_order_id"]
    data = _data(report, broker_order_id=report.broker_order_id)
    if order.status == OrderStatus.PENDING_NEW:
        order_transition(
            order=order,
            to_status=OrderStatus.NEW,
            event_type=OrderEventType.ACCEPTED,
            actor=SYSTEM_VENUE,
            data=data,
            update_fields=fields,
        )
    else:  # e.g. pending_cancel: the venue acknowledged it before seeing the cancel
        order_record_event(
            order=order,
            event_type=OrderEventType.ACCEPTED,
            actor=SYSTEM_VENUE,
            data=data,
            update_fields=fields,
        )
    return APPLIED


def _on_fill(order: Order, report: ExecutionReport, fill: Fill, pushes: PublishBatch) -> str:
    """The fill is already booked (`_fills_book`); the order takes its quantity."""
    qty, price = fill.qty, fill.price
    order.filled_qty += qty
    order.filled_notional += qty * price
    order.avg_fill_price = weighted_average(order.filled_notional, order.filled_qty)
    fields = ["filled_qty", "filled_notional", "avg_fill_price"]
    if order.accepted_at is None and order.status not in TERMINAL_STATUSES:
        order.accepted_at = fill.ts
        fields.append("accepted_at")
    data = _data(
        report,
        fill_id=str(fill.pk),
        fill_qty=qty,
        fill_price=price,
        fee=fill.fee,
        liquidity=fill.liquidity,
        filled_qty=order.filled_qty,
        avg_fill_price=order.avg_fill_price,
    )
    if order.filled_qty > order.qty:
        logger.error("Order %s overfilled: %s of %s", order.pk, order.filled_qty, order.qty)
    if order.filled_qty >= order.qty:
        to_status, event_type = OrderStatus.FILLED, OrderEventType.FILL
    elif order.status == OrderStatus.PENDING_CANCEL:
        # A partial fill racing the cancel: the fill counts, the cancel goes on for the rest.
        to_status, event_type = OrderStatus.PENDING_CANCEL, OrderEventType.PARTIAL_FILL
    else:
        to_status, event_type = OrderStatus.PARTIALLY_FILLED, OrderEventType.PARTIAL_FILL
    if can_transition(order.status, to_status):
        order_transition(
            order=order,
            to_status=to_status,
            event_type=event_type,
            actor=SYSTEM_VENUE,
            data=data,
            update_fields=fields,
        )
    else:
        # The venue filled an order OMS considers closed (or held): the ledger must still
        # hold the truth. Booked, noted, status untouched, and loudly reported.
        logger.error("Fill %s on order %s in status %s", report.report_id, order.pk, order.status)
        order_record_event(
            order=order,
            event_type=OrderEventType.LATE_FILL,
            actor=SYSTEM_VENUE,
            data={**data, "status": order.status},
            update_fields=fields,
        )
    fill_publish(fill, batch=pushes)
    return APPLIED


def _on_canceled(order: Order, report: ExecutionReport) -> str:
    if order.status in TERMINAL_STATUSES:
        return IGNORED
    expiring = order.cancel_reason == "expired"
    to_status = OrderStatus.EXPIRED if expiring else OrderStatus.CANCELED
    event_type = OrderEventType.EXPIRED if expiring else OrderEventType.CANCELED
    triggers_cancel_for_order(order=order)
    fields = []
    if not order.cancel_reason:  # nobody asked: the venue's cause (an exchange code) or "venue"
        order.cancel_reason = str(report.data.get("cause") or "venue")[:32]
        fields.append("cancel_reason")
    order_transition(
        order=order,
        to_status=to_status,
        event_type=event_type,
        actor=SYSTEM_VENUE,
        data=_data(report),
        update_fields=fields,
    )
    return APPLIED


def _on_expired(order: Order, report: ExecutionReport) -> str:
    if order.status in TERMINAL_STATUSES:
        return IGNORED
    order_transition(
        order=order,
        to_status=OrderStatus.EXPIRED,
        event_type=OrderEventType.EXPIRED,
        actor=SYSTEM_VENUE,
        data=_data(report),
    )
    return APPLIED


def _on_rejected(order: Order, report: ExecutionReport) -> str:
    if order.status in TERMINAL_STATUSES:
        return IGNORED
    reason = report.reason or "rejected by the venue"
    if can_transition(order.status, OrderStatus.REJECTED):
        order.reject_reason = reason[:300]
        order_transition(
            order=order,
            to_status=OrderStatus.REJECTED,
            event_type=OrderEventType.REJECTED,
            actor=SYSTEM_VENUE,
            data=_data(report, reason=reason),
            update_fields=["reject_reason"],
        )
    else:  # partly filled already: what is left is canceled, the fills stand
        order_transition(
            order=order,
            to_status=OrderStatus.CANCELED,
            event_type=OrderEventType.CANCELED,
            actor=SYSTEM_VENUE,
            data=_data(report, reason=reason),
        )
    return APPLIED


def _on_replaced(order: Order, report: ExecutionReport) -> str:
    if order.status in TERMINAL_STATUSES:
        return IGNORED
    pending = dict(order.pending_modify or {})
    new_qty = decimal_or_none(report.data.get("new_qty", pending.get("qty")))
    new_limit = decimal_or_none(report.data.get("new_limit_price", pending.get("limit_price")))
    changes: dict[str, list[str | None]] = {}
    if new_qty is not None and new_qty != order.qty:
        changes["qty"] = [format_decimal(order.qty), format_decimal(new_qty)]
        order.qty = new_qty
    if new_limit is not None and new_limit != order.limit_price:
        old = None if order.limit_price is None else format_decimal(order.limit_price)
        changes["limit_price"] = [old, format_decimal(new_limit)]
        order.limit_price = new_limit
    if pending.get("est_price"):
        order.est_price = Decimal(pending["est_price"])
    order.pending_modify = None
    order.version += 1
    fields = ["qty", "limit_price", "est_price", "pending_modify", "version"]
    data = _data(report, changes=changes, version=order.version)
    fields += _broker_ids_replaced(order, report, data)
    order_record_event(
        order=order,
        event_type=OrderEventType.MODIFIED,
        actor=SYSTEM_VENUE,
        data=data,
        update_fields=fields,
    )
    if order.filled_qty >= order.qty and order.status != OrderStatus.FILLED:
        order_transition(
            order=order,
            to_status=OrderStatus.FILLED,
            event_type=OrderEventType.FILL,
            actor=SYSTEM_VENUE,
            data={"fill_qty": "0", "fill_price": "0", "reason": "quantity reduced to filled"},
        )
    return APPLIED


def _broker_ids_replaced(order: Order, report: ExecutionReport, data: dict[str, Any]) -> list[str]:
    """A replace that is a new broker order (Alpaca): our order (our id unchanged) takes the
    new broker id and keeps the replaced ones, oldest first; the event names both."""
    old = str(report.data.get("replaced_broker_order_id") or "")
    new = str(report.data.get("broker_order_id") or report.broker_order_id or "")
    if not old or not new or new == order.broker_order_id:
        return []
    chain = [str(i) for i in order.replaced_broker_order_ids or []]
    if old not in chain:
        chain.append(old)
    order.replaced_broker_order_ids = chain
    order.broker_order_id = new
    data.update(replaced_broker_order_id=old, broker_order_id=new)
    return ["broker_order_id", "replaced_broker_order_ids"]


def _on_modify_rejected(order: Order, report: ExecutionReport) -> str:
    if order.status in TERMINAL_STATUSES or order.pending_modify is None:
        return IGNORED
    order.pending_modify = None
    order_record_event(
        order=order,
        event_type=OrderEventType.MODIFY_REJECTED,
        actor=SYSTEM_VENUE,
        data=_data(report),
        update_fields=["pending_modify"],
    )
    return APPLIED


def _on_cancel_rejected(order: Order, report: ExecutionReport) -> str:
    if order.status != OrderStatus.PENDING_CANCEL:
        return IGNORED
    order.cancel_reason = ""
    order_transition(
        order=order,
        to_status=working_status(order),
        event_type=OrderEventType.CANCEL_REJECTED,
        actor=SYSTEM_VENUE,
        data=_data(report),
        update_fields=["cancel_reason"],
    )
    return APPLIED


FILL_TYPES = frozenset({ReportType.FILL, ReportType.PARTIAL_FILL})
_HANDLERS = {
    ReportType.ACK: _on_ack,
    ReportType.CANCELED: _on_canceled,
    ReportType.EXPIRED: _on_expired,
    ReportType.REJECTED: _on_rejected,
    ReportType.REPLACED: _on_replaced,
    ReportType.MODIFY_REJECTED: _on_modify_rejected,
    ReportType.CANCEL_REJECTED: _on_cancel_rejected,
}
