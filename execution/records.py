"""Helpers both venues share: checking a new order, building, storing and replaying execution
reports, recording fills, and the reconciliation reads (open orders, positions from venue
fills)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Case, DecimalField, F, Sum, Value, When
from django.utils import timezone

from execution.models import VenueFill, VenueOrder, VenueOrderStatus, VenueReport
from execution.protocol import (
    ExecutionReport,
    OrderRequest,
    ReportType,
    VenueOrderView,
    VenuePosition,
)
from oms_site.compiled_query import insert_new

_DECIMAL_FIELDS = ("fill_qty", "fill_price", "fee", "leaves_qty")


def request_problem(request: OrderRequest, *, venue_works: str) -> str:
    """Why a venue of market and limit orders cannot take `request` ("" when it can).

    `venue_works` starts the sentence for another order type, e.g. "The paper broker works"
    → "The paper broker works market and limit orders, not 'stop'.".
    """
    if request.side not in ("buy", "sell"):
        return f"Unknown side {request.side!r}."
    if request.type not in ("market", "limit"):
        return f"{venue_works} market and limit orders, not {request.type!r}."
    if request.qty is None or request.qty <= 0:
        return "Quantity must be positive."
    if request.type == "limit" and (request.limit_price is None or request.limit_price <= 0):
        return "A limit order needs a positive limit price."
    if request.time_in_force not in ("day", "gtc", "gtd", "ioc", "fok"):
        return f"Unknown time in force {request.time_in_force!r}."
    return ""


def new_report_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def report_to_payload(report: ExecutionReport) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "report_id": report.report_id,
        "order_id": report.order_id,
        "type": report.type,
        "ts": report.ts.isoformat(),
        "liquidity": report.liquidity,
        "reason": report.reason,
        "broker_order_id": report.broker_order_id,
        "trade_id": report.trade_id,
        "data": report.data,
    }
    for name in _DECIMAL_FIELDS:
        value = getattr(report, name)
        payload[name] = None if value is None else str(value)
    return payload


def report_from_payload(payload: dict[str, Any]) -> ExecutionReport:
    values = dict(payload)
    values["ts"] = datetime.fromisoformat(values["ts"])
    for name in _DECIMAL_FIELDS:
        if values.get(name) is not None:
            values[name] = Decimal(values[name])
    if values.get("fee") is None:
        values["fee"] = Decimal("0")
    return ExecutionReport(**values)


def reports_store(*, venue: str, reports: list[ExecutionReport]) -> None:
    """Keep every report a venue produced (inside the caller's transaction)."""
    insert_new(
        [
            VenueReport(
                report_id=report.report_id,
                order_id=report.order_id,
                venue=venue,
                type=report.type,
                payload=report_to_payload(report),
                created_at=report.ts,
            )
            for report in reports
        ]
    )


def reports_of_order(*, order_id: str) -> list[ExecutionReport]:
    """What the venue already answered for an order, in order (a re-submission gets these)."""
    rows = VenueReport.objects.filter(order_id=order_id).order_by("created_at", "report_id")
    return [report_from_payload(row.payload) for row in rows]


def simple_report(
    venue_order: VenueOrder, report_type: str, *, prefix: str, reason: str = "", **extra: Any
) -> ExecutionReport:
    done = report_type in (ReportType.CANCELED, ReportType.REJECTED, ReportType.EXPIRED)
    leaves = Decimal("0") if done else venue_order.qty - venue_order.filled_qty
    return ExecutionReport(
        report_id=extra.pop("report_id", None) or new_report_id(prefix),
        order_id=venue_order.order_id,
        type=report_type,
        ts=extra.pop("ts", None) or timezone.now(),
        leaves_qty=extra.pop("leaves_qty", leaves),
        reason=reason,
        broker_order_id=venue_order.order_id,
        **extra,
    )


def fill_report(
    venue_order: VenueOrder,
    *,
    report_id: str,
    qty: Decimal,
    price: Decimal,
    fee: Decimal,
    liquidity: str,
    trade_id: str,
    ts: datetime,
    data: dict | None = None,
) -> ExecutionReport:
    """A fill of `venue_order`, whose filled_qty already includes `qty`."""
    leaves = venue_order.qty - venue_order.filled_qty
    return ExecutionReport(
        report_id=report_id,
        order_id=venue_order.order_id,
        type=ReportType.FILL if leaves == 0 else ReportType.PARTIAL_FILL,
        ts=ts,
        fill_qty=qty,
        fill_price=price,
        fee=fee,
        liquidity=liquidity,
        leaves_qty=leaves,
        broker_order_id=venue_order.order_id,
        trade_id=trade_id,
        data=data or {},
    )


def fill_record(*, venue_order: VenueOrder, report: ExecutionReport) -> VenueFill:
    return VenueFill(
        id=report.report_id,
        venue=venue_order.venue,
        order_id=venue_order.order_id,
        account_id=venue_order.account_id,
        symbol=venue_order.symbol,
        side=venue_order.side,
        qty=report.fill_qty,
        price=report.fill_price,
        fee=report.fee,
        liquidity=report.liquidity or "",
        trade_id=report.trade_id,
        ts=report.ts,
    )


def average_price(
    *, old_avg: Decimal | None, old_qty: Decimal, qty: Decimal, price: Decimal
) -> Decimal:
    """Quantity-weighted average fill price, kept at the model's 8 dp."""
    if not old_qty or old_avg is None:
        return price
    total = old_avg * old_qty + price * qty
    return (total / (old_qty + qty)).quantize(Decimal("0.00000001"))


def open_orders_view(*, venue: str, account_id: str) -> list[VenueOrderView]:
    rows = VenueOrder.objects.filter(
        venue=venue, account_id=account_id, status__in=VenueOrderStatus.OPEN_STATES
    ).order_by("created_at", "order_id")
    return [
        VenueOrderView(
            order_id=row.order_id,
            symbol=row.symbol,
            side=row.side,
            qty=row.qty,
            filled_qty=row.filled_qty,
            limit_price=row.limit_price,
            status=row.display_status,
        )
        for row in rows
    ]


def positions_view(*, venue: str, account_id: str) -> list[VenuePosition]:
    """Net signed quantity per symbol from the venue's own fills (flat symbols omitted)."""
    signed = Case(
        When(side="buy", then=F("qty")),
        default=Value(Decimal("0")) - F("qty"),
        output_field=DecimalField(max_digits=20, decimal_places=8),
    )
    rows = (
        VenueFill.objects.filter(venue=venue, account_id=account_id)
        .values("symbol")
        .annotate(net=Sum(signed))
        .order_by("symbol")
    )
    return [
        VenuePosition(account_id=account_id, symbol=row["symbol"], qty=row["net"].normalize())
        for row in rows
        if row["net"]
    ]
