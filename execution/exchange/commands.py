"""Apply one exchange command to the in-memory engine and to the persisted venue rows.

Called by the shard holder inside the command's transaction (the lease row and the command
row are locked). Everything a command changes — VenueOrder rows, VenueFill rows, the reports —
is written in that transaction; report and trade ids derive from the command id, so the same
command can never produce a second, different set of reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from execution import conf
from execution.matching import ExecutionResult, MatchingEngine, Order, Trade
from execution.models import CommandKind, VenueCommand, VenueFill, VenueOrder, VenueOrderStatus
from execution.pricing import fill_fee
from execution.protocol import ExecutionReport, ReportType
from execution.records import average_price, fill_record, fill_report, simple_report
from oms_site.locks import lock_rows
from oms_site.values import decimal_or_none, decimal_text_or_none, format_decimal

CANCEL_REASONS = {
    "ioc": "ioc: the part that could not fill at once was canceled",
    "fok": "fok: the order could not be filled completely at once, so nothing was done",
    "market_no_liquidity": (
        "market order: no more liquidity on the internal exchange; the rest was canceled"
    ),
    "self_trade": (
        "self-trade prevention: the incoming order would have traded with a resting order of "
        "the same account, so its remaining quantity was canceled (cancel-newest)"
    ),
    "user": "canceled by request",
    "expired": "expired",
}


class BookOutOfSync(RuntimeError):
    """The in-memory book disagrees with the persisted orders: roll back and rebuild."""


@dataclass
class CommandOutcome:
    symbol: str
    result: str
    reports: list[ExecutionReport] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    book_changed: bool = False


class CommandApplier:
    def __init__(
        self,
        *,
        engine: MatchingEngine,
        offsets: dict[str, int],
        command: VenueCommand,
        now: datetime,
    ) -> None:
        self.engine = engine
        self.offsets = offsets
        self.command = command
        self.now = now
        self.rows: dict[str, VenueOrder] = {}
        self.reports: list[ExecutionReport] = []
        self.fills: list[VenueFill] = []

    # ------------------------------------------------------------------ entry point

    def apply(self) -> CommandOutcome:
        kind = self.command.kind
        row = self._lock([self.command.order_id]).get(self.command.order_id)
        if row is None:
            return CommandOutcome(self.command.symbol, "unknown order")
        if kind == CommandKind.NEW:
            outcome = self._new(row)
        elif kind == CommandKind.MODIFY:
            outcome = self._modify(row)
        elif kind == CommandKind.CANCEL:
            outcome = self._cancel(row)
        else:  # pragma: no cover - the model's choices
            raise ValueError(f"unknown command kind {kind!r}")
        for changed in self.rows.values():
            changed.rev += 1
            changed.updated_at = self.now
            changed.save()
        if self.fills:
            VenueFill.objects.bulk_create(self.fills)
        outcome.reports = self.reports
        return outcome

    # ------------------------------------------------------------------ commands

    def _new(self, row: VenueOrder) -> CommandOutcome:
        symbol = row.symbol
        if row.status != VenueOrderStatus.PENDING:
            # Canceled (or answered) before its "new" command came: nothing enters the book.
            self.rows.pop(row.order_id)
            return CommandOutcome(symbol, f"skipped: order already {row.status}")
        order = Order(
            order_id=row.order_id,
            owner=row.account_id,
            side=row.side,
            type=row.type,
            tif=row.tif,
            qty=row.qty,
            price=row.limit_price if row.type == "limit" else None,
            display_qty=row.display_qty,
        )
        result = self.engine.submit(symbol, order)
        if result.status == "rejected":
            row.status = VenueOrderStatus.REJECTED
            row.reason = f"rejected by the exchange: {result.reject_reason}"
            row.visible_qty = Decimal("0")
            self._report(row, ReportType.REJECTED, "rej", reason=row.reason)
            return CommandOutcome(symbol, row.reason)
        self._report(row, ReportType.ACK, "ack")
        self._trades(result.trades)
        self._settle(row, result)
        return CommandOutcome(symbol, result.status, trades=result.trades, book_changed=True)

    def _modify(self, row: VenueOrder) -> CommandOutcome:
        symbol = row.symbol
        payload = self.command.payload or {}
        new_qty = decimal_or_none(payload.get("new_qty"))
        new_price = decimal_or_none(payload.get("new_limit_price"))
        if row.status != VenueOrderStatus.OPEN:
            reason = (
                "The order has not reached the book yet; try again."
                if row.status == VenueOrderStatus.PENDING
                else f"The order is {row.status}; it can no longer be modified."
            )
            self._report(row, ReportType.MODIFY_REJECTED, "mrj", reason=reason)
            return CommandOutcome(symbol, reason)
        old = {"qty": format_decimal(row.qty), "limit_price": decimal_text_or_none(row.limit_price)}
        result = self.engine.modify(row.order_id, new_qty, new_price)
        if result is None:
            raise BookOutOfSync(f"open order {row.order_id} is not resting in the book")
        if result.status == "rejected":
            reason = f"modify rejected by the exchange: {result.reject_reason}"
            self._report(row, ReportType.MODIFY_REJECTED, "mrj", reason=reason)
            return CommandOutcome(symbol, reason)
        if new_qty is not None:
            row.qty = new_qty
        if new_price is not None:
            row.limit_price = new_price
        new = {"qty": format_decimal(row.qty), "limit_price": decimal_text_or_none(row.limit_price)}
        self._report(row, ReportType.REPLACED, "rpl", data={"old": old, "new": new})
        self._trades(result.trades)
        self._settle(row, result)
        return CommandOutcome(symbol, "replaced", trades=result.trades, book_changed=True)

    def _cancel(self, row: VenueOrder) -> CommandOutcome:
        symbol = row.symbol
        if row.status == VenueOrderStatus.PENDING:
            row.status = VenueOrderStatus.CANCELED
            row.reason = CANCEL_REASONS["user"]
            self._report(row, ReportType.CANCELED, "cxl", reason=row.reason)
            return CommandOutcome(symbol, "canceled before reaching the book")
        if row.status != VenueOrderStatus.OPEN:
            reason = f"The order is {row.status}; there is nothing to cancel."
            self._report(row, ReportType.CANCEL_REJECTED, "crj", reason=reason)
            return CommandOutcome(symbol, reason)
        result = self.engine.cancel(row.order_id)
        if result is None:
            raise BookOutOfSync(f"open order {row.order_id} is not resting in the book")
        row.status = VenueOrderStatus.CANCELED
        row.visible_qty = Decimal("0")
        row.reason = CANCEL_REASONS["user"]
        self._report(
            row,
            ReportType.CANCELED,
            "cxl",
            reason=row.reason,
            data={"canceled_qty": format_decimal(result.canceled_qty)},
        )
        return CommandOutcome(symbol, "canceled", book_changed=True)

    # ------------------------------------------------------------------ helpers

    def _lock(self, order_ids: list[str]) -> dict[str, VenueOrder]:
        wanted = sorted(set(order_ids) - set(self.rows))
        if wanted:
            for row in lock_rows(VenueOrder.objects.filter(pk__in=wanted)):
                self.rows[row.order_id] = row
        return self.rows

    def _report(self, row: VenueOrder, report_type: str, tag: str, **extra) -> None:
        self.reports.append(
            simple_report(
                row,
                report_type,
                prefix="x",
                report_id=f"x-{self.command.id}-{tag}",
                ts=self.now,
                **extra,
            )
        )

    def _trades(self, trades: list[Trade]) -> None:
        if not trades:
            return
        self._lock([trade.maker_order_id for trade in trades])
        for index, trade in enumerate(trades):
            trade_id = f"x-{self.command.id}-t{index}"
            for order_id, liquidity in (
                (trade.maker_order_id, "maker"),
                (trade.taker_order_id, "taker"),
            ):
                row = self.rows.get(order_id)
                if row is None:
                    raise BookOutOfSync(f"order {order_id} traded but has no venue row")
                row.avg_fill_price = average_price(
                    old_avg=row.avg_fill_price,
                    old_qty=row.filled_qty,
                    qty=trade.qty,
                    price=trade.price,
                )
                row.filled_qty += trade.qty
                report = fill_report(
                    row,
                    report_id=f"{trade_id}-{liquidity[0]}",
                    qty=trade.qty,
                    price=trade.price,
                    fee=fill_fee(
                        qty=trade.qty, price=trade.price, bps=conf.exchange_fee_bps(liquidity)
                    ),
                    liquidity=liquidity,
                    trade_id=trade_id,
                    ts=self.now,
                )
                self.reports.append(report)
                self.fills.append(fill_record(venue_order=row, report=report))
        for order_id in {trade.maker_order_id for trade in trades}:
            self._sync_resting(self.rows[order_id])

    def _settle(self, row: VenueOrder, result: ExecutionResult) -> None:
        """Bring the command's own order row in line with the engine, report a cancel."""
        if result.canceled_qty and result.cancel_reason is not None:
            row.reason = CANCEL_REASONS.get(result.cancel_reason, result.cancel_reason)
            self._report(
                row,
                ReportType.CANCELED,
                "cxl",
                reason=row.reason,
                data={
                    "canceled_qty": format_decimal(result.canceled_qty),
                    "cause": result.cancel_reason,
                },
            )
        self._sync_resting(row, canceled=bool(result.canceled_qty))

    def _sync_resting(self, row: VenueOrder, *, canceled: bool = False) -> None:
        snapshot = self.engine.book(row.symbol).get_order(row.order_id)
        if snapshot is not None:
            if snapshot.filled_qty != row.filled_qty:
                raise BookOutOfSync(f"order {row.order_id}: filled qty differs from the book")
            row.status = VenueOrderStatus.OPEN
            row.visible_qty = snapshot.visible_qty
            row.seq = self.offsets.get(row.symbol, 0) + snapshot.seq
            return
        row.visible_qty = Decimal("0")
        if row.filled_qty >= row.qty:
            row.status = VenueOrderStatus.FILLED
        elif canceled:
            row.status = VenueOrderStatus.CANCELED
        else:
            raise BookOutOfSync(f"order {row.order_id} left the book neither filled nor canceled")
