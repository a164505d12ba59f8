"""Kite order updates (ticker frames, postbacks, polled order lists) → execution reports.

The same update may arrive three times (ticker, postback, polling), twice on one channel,
or after a newer one. Each order's last applied state is kept in `BrokerOrder` (row-locked
while it changes), and every report id is deterministic, so whatever the order of arrival:

- ack: once, `kite-<broker id>-ack`, when Kite first shows the order accepted;
- fills: one report per Kite trade (`/orders/{id}/trades`), `kite-<broker id>-t-<trade id>`,
  for trades beyond what was already reported — an update whose `filled_quantity` is not
  above the stored one fetches nothing and reports no fill;
- modified: `kite-<broker id>-mod-<qty>-<price>` when the quantity/price differ from the
  stored ones and the update says `modified` (an older, pre-modification update is not a
  modification back);
- canceled / rejected: once; a final status is never left (a late OPEN changes nothing).

Orders placed outside OMS (no link to an OMS order) get the same reports with
`order_id=""` and `data["external"] = True` plus what the orders side needs to import them
(the orders side's report service imports them as external orders: orders/core/external*.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from execution.adapters import kite_mapping as km
from execution.models import BrokerOrder
from execution.protocol import ExecutionReport, ReportType
from oms_site.locks import lock_one

TradesFetch = Callable[[str], list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Link:
    """What the update path knows of an order before it locks its row."""

    pk: int
    filled_qty: Decimal


def link_for_update(*, account_id: str, order: dict[str, Any]) -> Link:
    """The BrokerOrder row of a Kite order (ours by its tag, else by broker id, else a new
    external one)."""
    broker_order_id = str(order["order_id"])
    tag = str(order.get("tag") or "")
    rows = BrokerOrder.objects.filter(broker=km.BROKER, account_id=account_id)
    row = rows.filter(broker_order_id=broker_order_id).first()
    if row is None and tag:
        row = rows.filter(client_ref=tag).exclude(order_id="").first()
    if row is None:
        try:
            with transaction.atomic():
                row = BrokerOrder.objects.create(
                    broker=km.BROKER,
                    account_id=account_id,
                    client_ref=f"ext-{broker_order_id}"[:40],
                    broker_order_id=broker_order_id,
                    symbol=km.oms_symbol(
                        exchange=str(order.get("exchange") or ""),
                        tradingsymbol=str(order.get("tradingsymbol") or ""),
                    ),
                    qty=km.dec(order.get("quantity")),
                    limit_price=km.price_or_none(order.get("price")),
                )
        except IntegrityError:  # another process created it first
            row = rows.get(client_ref=f"ext-{broker_order_id}"[:40])
    return Link(pk=row.pk, filled_qty=row.filled_qty)


def reports_for_update(
    *, account_id: str, order: dict[str, Any], trades: TradesFetch
) -> list[ExecutionReport]:
    """Turn one Kite order update into the reports it implies (often none)."""
    link = link_for_update(account_id=account_id, order=order)
    fetched: list[dict[str, Any]] = []
    if km.dec(order.get("filled_quantity")) > link.filled_qty:
        # Fetched before the row lock: no network call while a row is held.
        fetched = trades(str(order["order_id"]))
    with transaction.atomic():
        row = lock_one(BrokerOrder.objects.all(), pk=link.pk)
        reports = _reports(row, order, fetched)
        row.updated_at = timezone.now()
        row.save()
    return reports


def _reports(
    row: BrokerOrder, order: dict[str, Any], trades: list[dict[str, Any]]
) -> list[ExecutionReport]:
    status = str(order.get("status") or "")
    broker_order_id = str(order["order_id"])
    if not row.broker_order_id:
        row.broker_order_id = broker_order_id  # found by tag (its answer was lost)
    final = row.status in km.TERMINAL
    reports: list[ExecutionReport] = []
    if not final and status in km.ACCEPTED and not _acked(row):
        reports.append(_report(row, order, ReportType.ACK, "ack"))
    if not final and status not in km.TERMINAL:
        reports.extend(_modified(row, order))
    reports.extend(_fills(row, order, trades))
    if not final:
        if status == "CANCELLED":
            reason = str(order.get("status_message") or "canceled at Kite")
            reports.append(_report(row, order, ReportType.CANCELED, "canceled", reason=reason))
        elif status == "REJECTED":
            reason = str(order.get("status_message") or "rejected by Kite")
            reports.append(_report(row, order, ReportType.REJECTED, "rejected", reason=reason))
        if status in km.TERMINAL or status in km.ACCEPTED or not row.status:
            row.status = status
    return reports


def _acked(row: BrokerOrder) -> bool:
    return bool(row.status) and row.status not in ("SENDING",)


def _modified(row: BrokerOrder, order: dict[str, Any]) -> list[ExecutionReport]:
    qty = km.dec(order.get("quantity"))
    price = km.price_or_none(order.get("price")) if order.get("order_type") == "LIMIT" else None
    if not order.get("modified") or (qty == row.qty and price == row.limit_price):
        return []
    row.qty, row.limit_price = qty, price
    data = {"new_qty": str(qty), "new_limit_price": None if price is None else str(price)}
    return [_report(row, order, ReportType.REPLACED, "mod", qty, price or "mkt", data=data)]


def _fills(
    row: BrokerOrder, order: dict[str, Any], trades: list[dict[str, Any]]
) -> list[ExecutionReport]:
    """One report per trade beyond the quantity already reported, in Kite's trade order."""
    total = km.dec(order.get("quantity")) or row.qty
    cumulative = Decimal("0")
    reports = []
    for trade in sorted(trades, key=lambda t: (str(t.get("fill_timestamp")), int(t["trade_id"]))):
        qty = km.dec(trade.get("quantity"))
        cumulative += qty
        if cumulative <= row.filled_qty or qty <= 0:
            continue
        leaves = max(total - cumulative, Decimal("0"))
        reports.append(
            ExecutionReport(
                report_id=km.report_id(row.broker_order_id, "t", trade["trade_id"]),
                order_id=row.order_id,
                type=ReportType.FILL if leaves == 0 else ReportType.PARTIAL_FILL,
                ts=km.kite_time(trade.get("fill_timestamp")) or timezone.now(),
                fill_qty=qty,
                fill_price=km.dec(trade.get("average_price")),
                liquidity=None,
                leaves_qty=leaves,
                broker_order_id=row.broker_order_id,
                trade_id=str(trade["trade_id"]),
                data=_external(row, order),
            )
        )
        row.filled_qty = cumulative
    return reports


def _report(
    row: BrokerOrder,
    order: dict[str, Any],
    report_type: str,
    *parts: object,
    reason: str = "",
    data: dict | None = None,
) -> ExecutionReport:
    done = report_type in (ReportType.CANCELED, ReportType.REJECTED)
    filled = km.dec(order.get("filled_quantity"))
    return ExecutionReport(
        report_id=km.report_id(row.broker_order_id, *parts),
        order_id=row.order_id,
        type=report_type,
        ts=km.kite_time(order.get("exchange_update_timestamp") or order.get("order_timestamp"))
        or timezone.now(),
        leaves_qty=Decimal("0")
        if done
        else max(km.dec(order.get("quantity")) - filled, Decimal("0")),
        reason=reason,
        broker_order_id=row.broker_order_id,
        data={**(data or {}), **_external(row, order)},
    )


def _external(row: BrokerOrder, order: dict[str, Any]) -> dict[str, Any]:
    """For an order placed outside OMS: what the orders side needs to import it."""
    if row.order_id:
        return {}
    return {
        "external": True,
        "account_id": row.account_id,
        "broker": km.BROKER,
        "symbol": row.symbol,
        "side": km.order_side(order),
        "type": km.oms_type(str(order.get("order_type") or "")),
        "qty": str(km.dec(order.get("quantity"))),
        "limit_price": None
        if km.price_or_none(order.get("price")) is None
        else str(km.dec(order.get("price"))),
        "status": km.oms_status(order),
        "kite": {
            "exchange": order.get("exchange"),
            "tradingsymbol": order.get("tradingsymbol"),
            "product": order.get("product"),
            "validity": order.get("validity"),
            "placed_by": order.get("placed_by"),
            "tag": order.get("tag"),
        },
    }
