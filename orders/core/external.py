"""Importing what happened at a real broker outside OMS (issue 15: kept in step).

`orders_import_external(*, account_id, orders, fills)` is execution's external sink
(`execution.registry.register_external_sink("orders.external", …)`, wired in
OrdersConfig.ready()): reconciliation (execution.broker_sync) hands it the broker's orders
OMS never placed and their fills. Each broker order OMS does not know becomes an Order
marked `external` (orders/core/external_match.py); each fill is booked through the one
report path (orders/core/reports.py) as an ExecutionReport whose id comes from the broker's
trade id, so ProcessedReport's dedupe, the FIFO booking, the pushes and the notifications
happen as for any fill, and running the import again books nothing twice. The broker has
already executed these orders: no risk check applies; cash and positions move through the
normal booking.

An external order OMS already holds is kept in step the same way: its new fills booked, a
change of quantity or price (a modification at the broker) and its end (canceled, expired,
rejected) applied as reports with deterministic ids.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import TradingAccount
from execution.protocol import BrokerFillView, BrokerOrderView, ExecutionReport, ReportType
from oms_site.api import format_decimal
from orders.core.external_match import (
    external_order_create,
    external_orders_known,
    external_report_id,
)
from orders.core.reports import order_apply_reports
from orders.core.selectors import parse_uuid
from orders.models import TERMINAL_STATUSES, Order

logger = logging.getLogger(__name__)

_END_REPORTS = {
    "canceled": ReportType.CANCELED,
    "expired": ReportType.EXPIRED,
    "rejected": ReportType.REJECTED,
}


@dataclass
class ExternalImport:
    """What one import did: order ids created, and the outcome of each report applied."""

    created: list[str] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)


def _fill_report(order: Order, fill: BrokerFillView, broker: str) -> ExecutionReport:
    return ExecutionReport(
        report_id=external_report_id(broker, fill.trade_id),
        order_id=str(order.pk),
        type=ReportType.PARTIAL_FILL,  # the report service tells partial from complete
        ts=fill.ts or timezone.now(),
        fill_qty=fill.qty,
        fill_price=fill.price,
        fee=fill.fee,
        broker_order_id=fill.broker_order_id,
        trade_id=fill.trade_id,
        data={"external": True, "source": "reconciliation"},
    )


def _sync_reports(order: Order, view: BrokerOrderView, broker: str) -> list[ExecutionReport]:
    """A modification and the end of an external order as the broker shows them (after its
    fills: a canceled order's fills count)."""
    if order.status in TERMINAL_STATUSES:
        return []
    reports = []
    limit = view.limit_price if order.limit_price is not None else None
    if view.status not in TERMINAL_STATUSES and (
        view.qty != order.qty or (limit is not None and limit != order.limit_price)
    ):
        price = "mkt" if limit is None else format_decimal(limit)
        data = {"new_qty": format_decimal(view.qty), "source": "reconciliation"}
        if limit is not None:
            data["new_limit_price"] = format_decimal(limit)
        reports.append(
            ExecutionReport(
                report_id=external_report_id(
                    broker, view.broker_order_id, "mod", format_decimal(view.qty), price
                ),
                order_id=str(order.pk),
                type=ReportType.REPLACED,
                ts=timezone.now(),
                broker_order_id=view.broker_order_id,
                data=data,
            )
        )
    end = _END_REPORTS.get(view.status)
    if end is not None:
        reports.append(
            ExecutionReport(
                report_id=external_report_id(broker, view.broker_order_id, view.status),
                order_id=str(order.pk),
                type=end,
                ts=timezone.now(),
                reason=f"{view.status} at the broker",
                broker_order_id=view.broker_order_id,
                data={"cause": "broker", "source": "reconciliation"},
            )
        )
    return reports


def _view_of_fills(fills: list[BrokerFillView]) -> BrokerOrderView:
    """A broker order known only by its fills (older than the broker's order list): one
    market order of their total quantity."""
    first = fills[0]
    total = sum((fill.qty for fill in fills), start=Decimal("0"))
    return BrokerOrderView(
        broker_order_id=first.broker_order_id,
        client_order_id="",
        symbol=first.symbol,
        side=first.side,
        type="market",
        qty=total,
        filled_qty=total,
        limit_price=None,
        stop_price=None,
        avg_fill_price=None,
        status="filled",
        time_in_force="day",
        created_at=min(fill.ts for fill in fills),
    )


def orders_import_external(
    *, account_id: str, orders: list[BrokerOrderView], fills: list[BrokerFillView]
) -> ExternalImport:
    """Import the broker's orders OMS did not place and book their fills (see the module
    docstring), in one transaction. An unknown account → nothing (logged)."""
    result = ExternalImport()
    account = TradingAccount.objects.filter(pk=account_id).first()
    if account is None:
        logger.error("External import for unknown account %s", account_id)
        return result
    broker = account.broker
    by_order: dict[str, list[BrokerFillView]] = defaultdict(list)
    for fill in sorted(fills, key=lambda f: (f.ts, f.trade_id)):
        by_order[fill.broker_order_id].append(fill)
    views = {view.broker_order_id: view for view in orders}
    for broker_order_id, its_fills in by_order.items():
        views.setdefault(broker_order_id, _view_of_fills(its_fills))
    with transaction.atomic():
        known = external_orders_known(account=account, broker_order_ids=views)
        reports: list[ExecutionReport] = []
        for broker_order_id, view in views.items():
            order = known.get(broker_order_id)
            if order is None and view.client_order_id:
                # Carries a client id: ours if it is one of OMS's order ids on the account.
                ours = parse_uuid(view.client_order_id)
                order = (
                    None if ours is None else Order.objects.filter(account=account, pk=ours).first()
                )
            if order is None:
                order = external_order_create(
                    account=account, view=view, broker=broker, source="reconciliation"
                )
                if order is None:
                    continue
                result.created.append(str(order.pk))
            if not order.external:
                continue  # OMS's own order: its reports come from the adapter
            reports += [_fill_report(order, fill, broker) for fill in by_order[broker_order_id]]
            reports += _sync_reports(order, view, broker)
        outcomes = order_apply_reports(reports)
    result.outcomes = {report.report_id: o for report, o in zip(reports, outcomes, strict=True)}
    return result
