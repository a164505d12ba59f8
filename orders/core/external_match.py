"""Orders placed at a broker outside OMS: finding them by the broker's ids, creating them
(marked external), and pointing a broker's report for one at its OMS order.

Used by the report service (orders/core/reports.py: a stream report for an order OMS did
not place arrives with order_id "" and data {"external": true, …}) and by the import of
reconciliation's findings (orders/core/external.py). Imports nothing of reports.py.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import TradingAccount
from execution.adapters import alpaca_mapping, kite_mapping
from execution.protocol import BrokerOrderView, ExecutionReport, ReportType
from marketdata.models import Instrument
from marketdata.selectors import normalize_symbol
from orders.core.lifecycle import actor_system, order_event_created
from orders.models import Order, OrderSide, OrderStatus, OrderType, TimeInForce
from pnl.models import EXTERNAL_REPORT_PREFIX

logger = logging.getLogger(__name__)

IMPORT_ACTOR = actor_system("broker import")
FILL_TYPES = frozenset({ReportType.FILL, ReportType.PARTIAL_FILL})
_TYPES = {value for value, _ in OrderType.choices}
_TIFS = {value for value, _ in TimeInForce.choices}


def external_report_id(broker: str, *parts: object) -> str:
    """Deterministic ids of what OMS books for an external order: a fill is
    `ext-<broker>-<broker's trade id>` whichever path (stream, catch-up, reconciliation)
    brings it, so it is booked once."""
    return EXTERNAL_REPORT_PREFIX + "-".join([broker, *map(str, parts)])[: 120 - 4]


def is_external_report(report: ExecutionReport) -> bool:
    return not report.order_id and bool((report.data or {}).get("external"))


def external_orders_known(
    *, account: TradingAccount, broker_order_ids: Iterable[str]
) -> dict[str, Order]:
    """The account's orders known by any of these broker ids (current, first seen, or
    replaced), keyed by each id they answer to."""
    ids = sorted({str(i) for i in broker_order_ids if i})
    if not ids:
        return {}
    rows = Order.objects.filter(account=account).filter(
        Q(broker_order_id__in=ids) | Q(external_ref__in=ids)
    )
    found: dict[str, Order] = {}
    for order in rows:
        for key in (order.broker_order_id, order.external_ref, *order.replaced_broker_order_ids):
            if key:
                found.setdefault(str(key), order)
    return found


def _problem(view: BrokerOrderView) -> str:
    if view.side not in (OrderSide.BUY, OrderSide.SELL):
        return f"side {view.side!r}"
    if view.qty is None or view.qty <= 0:
        return f"qty {view.qty}"
    if not view.broker_order_id:
        return "no broker order id"
    return ""


def external_order_create(
    *, account: TradingAccount, view: BrokerOrderView, broker: str, source: str
) -> Order | None:
    """Create the OMS order of a broker order OMS did not place: status `new` (never
    pending_new: the sweeper would send it to the broker again), nothing filled yet (its
    fills are booked as reports), no creator, an audit event saying it was imported. None
    when OMS cannot hold it (an instrument it does not list, nonsense quantities): logged,
    and reconciliation's position check still sees the difference. Idempotent: the
    (account, external_ref) key makes a concurrent import of the same order find it."""
    instrument = _importable_instrument(account=account, view=view, broker=broker)
    if instrument is None:
        return None
    try:
        with transaction.atomic():
            order = Order.objects.create(
                **_external_order_fields(account, instrument, view, broker)
            )
            order_event_created(
                order=order,
                actor=IMPORT_ACTOR,
                data={
                    "note": "imported from the broker",
                    "external": True,
                    "source": source,
                    "broker": broker,
                    "broker_order_id": view.broker_order_id,
                    "broker_status": view.status,
                    "broker_filled_qty": view.filled_qty,
                },
            )
    except IntegrityError:  # imported meanwhile by another process
        return Order.objects.filter(account=account, external_ref=view.broker_order_id).first()
    logger.info(
        "Imported broker order %s of account %s as external order %s",
        view.broker_order_id,
        account.pk,
        order.pk,
    )
    return order


def _importable_instrument(
    *, account: TradingAccount, view: BrokerOrderView, broker: str
) -> Instrument | None:
    """The instrument of a broker order OMS can hold; None (logged) when it cannot."""
    problem = _problem(view)
    instrument = Instrument.objects.filter(symbol=normalize_symbol(view.symbol)).first()
    if instrument is None:
        problem = problem or f"unknown instrument {view.symbol!r}"
    if problem:
        logger.error(
            "Broker order %s of account %s at %s cannot be imported: %s",
            view.broker_order_id,
            account.pk,
            broker,
            problem,
        )
        return None
    return instrument


def _external_order_fields(
    account: TradingAccount, instrument: Instrument, view: BrokerOrderView, broker: str
) -> dict[str, Any]:
    order_type = view.type if view.type in _TYPES else OrderType.MARKET
    limit = view.limit_price if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
    created = view.created_at or timezone.now()
    return {
        "account": account,
        "instrument": instrument,
        "symbol": instrument.symbol,
        "side": view.side,
        "type": order_type,
        "qty": view.qty,
        "limit_price": limit,
        "stop_price": view.stop_price,
        "time_in_force": view.time_in_force if view.time_in_force in _TIFS else "day",
        "status": OrderStatus.NEW,
        "broker": broker,
        "broker_order_id": view.broker_order_id,
        "external": True,
        "external_ref": view.broker_order_id,
        "est_price": limit or view.avg_fill_price,
        "created_by": None,
        "created_at": created,
        "updated_at": timezone.now(),
        "accepted_at": created,
        "event_seq": 1,
    }


def _view_of_report(report: ExecutionReport, broker: str) -> BrokerOrderView | None:
    """The broker's order in an external report, mapped by the adapter's own mapping."""
    data: dict[str, Any] = report.data or {}
    if broker == "alpaca" and isinstance(data.get("order"), dict):
        return alpaca_mapping.external_order_view(data["order"])
    if broker == "kite":
        return kite_mapping.external_order_view(
            data, broker_order_id=report.broker_order_id, ts=report.ts
        )
    return None


def _ids_of(report: ExecutionReport) -> list[str]:
    data = report.data or {}
    order = data.get("order") if isinstance(data.get("order"), dict) else {}
    replaced = data.get("replaced_order") if isinstance(data.get("replaced_order"), dict) else {}
    ids = [
        report.broker_order_id,
        data.get("replaced_broker_order_id"),
        order.get("id"),
        order.get("replaces"),
        replaced.get("id"),
    ]
    return [str(i) for i in ids if i]


def external_report_resolve(report: ExecutionReport) -> ExecutionReport:
    """A broker's report for an order OMS did not place, pointed at its OMS order (imported
    now if OMS does not know it yet); a fill gets the id every path gives it. Returned as
    it is (order_id "": the report service calls it unknown) when the account is unknown or
    the order cannot be imported."""
    data = report.data or {}
    broker = str(data.get("broker") or "")
    account = TradingAccount.objects.filter(pk=data.get("account_id")).first()
    if account is None or not broker:
        logger.error("External report %s names no known account/broker", report.report_id)
        return report
    ids = _ids_of(report)
    known = external_orders_known(account=account, broker_order_ids=ids)
    order = next((known[i] for i in ids if i in known), None)
    if order is None:
        view = _view_of_report(report, broker)
        if view is None:
            logger.error("External report %s carries no order to import", report.report_id)
            return report
        order = external_order_create(account=account, view=view, broker=broker, source="stream")
        if order is None:
            return report
    report_id = report.report_id
    if report.type in FILL_TYPES and report.trade_id and order.external:
        report_id = external_report_id(broker, report.trade_id)
    return dataclasses.replace(report, order_id=str(order.pk), report_id=report_id)


def external_reports_resolve(reports: list[ExecutionReport]) -> list[ExecutionReport]:
    return [external_report_resolve(r) if is_external_report(r) else r for r in reports]
