"""A deterministic broker adapter for orders tests (registered as kind "fake").

It answers synchronously like a venue would and records every call. `mode` decides what a
submission gets: "ack" (working), "fill" (ack + one full fill), "partial" (ack + a fill of
`partial_qty`), "reject", "silent" (no answer: the venue stays quiet), "unavailable"
(BrokerUnavailableError), "permanent" (PermanentBrokerError).
"""

from __future__ import annotations

import itertools
from decimal import Decimal

from django.utils import timezone

from execution.protocol import (
    BrokerUnavailableError,
    ExecutionReport,
    ModifyRequest,
    OrderRequest,
    PermanentBrokerError,
    ReportType,
)

_ids = itertools.count(1)


def report(order_id: str, report_type: str, **fields) -> ExecutionReport:
    fields.setdefault("report_id", f"fake-{next(_ids)}")
    fields.setdefault("ts", timezone.now())
    return ExecutionReport(order_id=str(order_id), type=report_type, **fields)


class FakeBroker:
    name = "fake"
    in_process = True  # called inline, inside the caller's DB connection

    def __init__(self) -> None:
        self.mode = "ack"
        self.fill_price: Decimal | None = None
        self.partial_qty = Decimal("1")
        self.cancel_mode = "cancel"  # cancel | reject | silent | unavailable
        self.modify_mode = "replace"  # replace | reject | unavailable
        self.submitted: list[OrderRequest] = []
        self.modified: list[ModifyRequest] = []
        self.canceled: list[str] = []

    def _price(self, request: OrderRequest) -> Decimal:
        return self.fill_price or request.limit_price or Decimal("100")

    def submit(self, request: OrderRequest) -> list[ExecutionReport]:
        self.submitted.append(request)
        if self.mode == "unavailable":
            raise BrokerUnavailableError("fake venue is down")
        if self.mode == "permanent":
            raise PermanentBrokerError("fake venue refuses this account")
        if self.mode == "silent":
            return []
        if self.mode == "reject":
            return [report(request.order_id, ReportType.REJECTED, reason="venue says no")]
        reports = [
            report(request.order_id, ReportType.ACK, broker_order_id=f"B{request.order_id[:8]}")
        ]
        if self.mode == "fill":
            qty = request.qty - request.filled_qty
            reports.append(
                report(
                    request.order_id,
                    ReportType.FILL,
                    fill_qty=qty,
                    fill_price=self._price(request),
                    fee=Decimal("1.5"),
                    liquidity="taker",
                    leaves_qty=Decimal("0"),
                )
            )
        elif self.mode == "partial":
            reports.append(
                report(
                    request.order_id,
                    ReportType.PARTIAL_FILL,
                    fill_qty=self.partial_qty,
                    fill_price=self._price(request),
                    liquidity="maker",
                    leaves_qty=request.qty - self.partial_qty,
                )
            )
        return reports

    def modify(self, request: ModifyRequest) -> list[ExecutionReport]:
        self.modified.append(request)
        if self.modify_mode == "unavailable":
            raise BrokerUnavailableError("fake venue is down")
        if self.modify_mode == "reject":
            return [report(request.order_id, ReportType.MODIFY_REJECTED, reason="too late")]
        data = {}
        if request.new_qty is not None:
            data["new_qty"] = str(request.new_qty)
        if request.new_limit_price is not None:
            data["new_limit_price"] = str(request.new_limit_price)
        return [report(request.order_id, ReportType.REPLACED, data=data)]

    def cancel(self, *, order_id: str, account_id: str, symbol: str) -> list[ExecutionReport]:
        self.canceled.append(order_id)
        if self.cancel_mode == "unavailable":
            raise BrokerUnavailableError("fake venue is down")
        if self.cancel_mode == "silent":
            return []
        if self.cancel_mode == "reject":
            return [report(order_id, ReportType.CANCEL_REJECTED, reason="already done")]
        return [report(order_id, ReportType.CANCELED)]

    def open_orders(self, *, account_id: str) -> list:
        return []

    def positions(self, *, account_id: str) -> list:
        return []
