"""`exchange`: the internal venue. Orders of all exchange accounts meet in one price-time
priority book per instrument and trade at the resting order's price.

This adapter runs in the caller's process (web/worker): it persists the venue's record of the
order and a command, and enqueues the command to the symbol's shard queue on commit. All
answers (ack, fills for both sides, cancels, rejects, replacements) come from the shard
worker, asynchronously, through `execution.registry.emit_reports`, inside the transaction that
processes the command (see execution/exchange/shard.py). Only input the book could never
accept, or an order the venue does not know / has finished, is answered synchronously.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from execution.exchange.shard import command_create, command_enqueue
from execution.models import (
    CommandKind,
    CommandStatus,
    Venue,
    VenueCommand,
    VenueOrder,
    VenueOrderStatus,
)
from execution.protocol import (
    ExecutionReport,
    ModifyRequest,
    OrderRequest,
    ReportType,
    VenueOrderView,
    VenuePosition,
)
from execution.records import (
    new_report_id,
    open_orders_view,
    positions_view,
    reports_store,
    request_problem,
    simple_report,
)

PREFIX = "xs"  # synchronous answers; the shard's reports are "x-<command id>-<tag>"


class ExchangeBroker:
    name = Venue.EXCHANGE
    in_process = True

    def submit(self, request: OrderRequest) -> list[ExecutionReport]:
        try:
            with transaction.atomic():
                return self._submit(request)
        except IntegrityError:
            # A concurrent submit of the same order won the insert: it is a re-submission.
            with transaction.atomic():
                return self._resubmit(request.order_id)

    def _submit(self, request: OrderRequest) -> list[ExecutionReport]:
        if VenueOrder.objects.filter(pk=request.order_id).exists():
            return self._resubmit(request.order_id)
        now = timezone.now()
        row = VenueOrder(
            order_id=request.order_id,
            venue=Venue.EXCHANGE,
            account_id=request.account_id,
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            qty=request.qty,
            filled_qty=Decimal("0"),
            visible_qty=Decimal("0"),
            limit_price=request.limit_price if request.type == "limit" else None,
            tif=request.time_in_force,
            display_qty=request.display_qty,
            status=VenueOrderStatus.PENDING,
            created_at=now,
            updated_at=now,
        )
        problem = _exchange_request_problem(request)
        if problem:
            row.status = VenueOrderStatus.REJECTED
            row.reason = problem[:200]
            row.save(force_insert=True)
            report = simple_report(row, ReportType.REJECTED, prefix=PREFIX, reason=problem)
            reports_store(venue=Venue.EXCHANGE, reports=[report])
            return [report]
        row.save(force_insert=True)
        command_create(kind=CommandKind.NEW, order_id=row.order_id, symbol=row.symbol)
        return []

    def _resubmit(self, order_id: str) -> list[ExecutionReport]:
        """A repeated submit: re-send what is still pending (a lost task), answer nothing new —
        the shard's reports reach the sink exactly once, in its own transaction."""
        for command in VenueCommand.objects.filter(order_id=order_id, status=CommandStatus.PENDING):
            command_enqueue(command=command)
        return []

    @transaction.atomic
    def modify(self, request: ModifyRequest) -> list[ExecutionReport]:
        row = VenueOrder.objects.filter(pk=request.order_id, venue=Venue.EXCHANGE).first()
        problem = ""
        if row is None:
            return [_unknown(request.order_id, ReportType.MODIFY_REJECTED)]
        if row.status not in VenueOrderStatus.OPEN_STATES:
            problem = f"The order is {row.status}; it can no longer be modified."
        elif request.new_qty is None and request.new_limit_price is None:
            problem = "Nothing to modify."
        elif request.new_qty is not None and request.new_qty <= 0:
            problem = "The new quantity must be positive."
        elif request.new_limit_price is not None and request.new_limit_price <= 0:
            problem = "The limit price must be positive."
        if problem:
            report = simple_report(row, ReportType.MODIFY_REJECTED, prefix=PREFIX, reason=problem)
            reports_store(venue=Venue.EXCHANGE, reports=[report])
            return [report]
        command_create(
            kind=CommandKind.MODIFY,
            order_id=row.order_id,
            symbol=row.symbol,
            payload={
                "new_qty": None if request.new_qty is None else str(request.new_qty),
                "new_limit_price": (
                    None if request.new_limit_price is None else str(request.new_limit_price)
                ),
                "version": request.version,
            },
        )
        return []

    @transaction.atomic
    def cancel(self, *, order_id: str, account_id: str, symbol: str) -> list[ExecutionReport]:
        row = VenueOrder.objects.filter(pk=order_id, venue=Venue.EXCHANGE).first()
        if row is None:
            return [_unknown(order_id, ReportType.CANCEL_REJECTED)]
        if row.status not in VenueOrderStatus.OPEN_STATES:
            report = simple_report(
                row,
                ReportType.CANCEL_REJECTED,
                prefix=PREFIX,
                reason=f"The order is {row.status}; there is nothing to cancel.",
            )
            reports_store(venue=Venue.EXCHANGE, reports=[report])
            return [report]
        command_create(kind=CommandKind.CANCEL, order_id=row.order_id, symbol=row.symbol)
        return []

    def open_orders(self, *, account_id: str) -> list[VenueOrderView]:
        return open_orders_view(venue=Venue.EXCHANGE, account_id=account_id)

    def positions(self, *, account_id: str) -> list[VenuePosition]:
        return positions_view(venue=Venue.EXCHANGE, account_id=account_id)


def _exchange_request_problem(request: OrderRequest) -> str:
    problem = request_problem(request, venue_works="The exchange matches")
    if problem:
        return problem
    if request.display_qty is not None:
        if request.display_qty <= 0:
            return "The display quantity must be positive."
        if request.type != "limit" or request.time_in_force in ("ioc", "fok"):
            return "An iceberg (display_qty) must be a limit order that can rest (day/gtc/gtd)."
    if request.filled_qty:
        return "The exchange cannot take over an order that already has fills elsewhere."
    return ""


def _unknown(order_id: str, report_type: str) -> ExecutionReport:
    return ExecutionReport(
        report_id=new_report_id(PREFIX),
        order_id=order_id,
        type=report_type,
        ts=timezone.now(),
        reason="The exchange has no such order.",
    )
