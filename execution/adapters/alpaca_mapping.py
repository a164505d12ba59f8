"""Alpaca ↔ OMS mapping: order bodies, statuses, and deterministic execution reports.

Report ids are derived from what Alpaca says, never drawn at random, so the same event seen
twice — on the stream, repeated or out of order, or again by the catch-up poll — is the same
report and the orders side applies it once:
    ack       alp-<broker order id>-new
    fill      alp-<broker order id>-<cumulative filled qty after the fill>
              (the stream's `order.filled_qty` and the FILL activity's `cum_qty`: the same
              number on both paths, unlike the stream's execution_id)
    replaced  alp-<replaced broker order id>-replaced
    canceled / expired / rejected   alp-<broker order id>-<that word>

Client order ids: an order OMS places carries our order id; each replacement (PATCH) carries
`<our id>.r<version>` (Alpaca wants a new unique one), so every order of the chain maps back
to our id and a lost replace answer is found by that id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from execution.protocol import (
    BrokerFillView,
    BrokerOrderView,
    ExecutionReport,
    OrderRequest,
    PermanentBrokerError,
    ReportType,
)

PREFIX = "alp"
REPLACE_MARK = ".r"
ZERO = Decimal("0")


class AlpacaAuthError(PermanentBrokerError):
    """Alpaca refused the key (HTTP 401/403 on an authenticated call)."""


class AlpacaRefusedError(PermanentBrokerError):
    """Alpaca answered with a business refusal (403/404/422)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{message} (HTTP {status})")
        self.status = status
        self.message = message


TIF_TO_ALPACA = {"day": "day", "gtc": "gtc", "ioc": "ioc", "fok": "fok"}
# Alpaca order status → OMS order status (reconciliation views).
STATUS_TO_OMS = {
    "new": "new",
    "accepted": "new",
    "pending_new": "pending_new",
    "accepted_for_bidding": "new",
    "held": "new",
    "calculated": "partially_filled",
    "partially_filled": "partially_filled",
    "filled": "filled",
    "done_for_day": "expired",
    "canceled": "canceled",
    "expired": "expired",
    "replaced": "canceled",  # superseded by its replacement (folded into it in views)
    "pending_cancel": "pending_cancel",
    "pending_replace": "new",
    "stopped": "new",
    "rejected": "rejected",
    "suspended": "new",
}
OPEN_STATUSES = frozenset(
    {"new", "accepted", "pending_new", "accepted_for_bidding", "held", "partially_filled"}
    | {"pending_cancel", "pending_replace", "calculated", "stopped", "suspended"}
)
TERMINAL_EVENTS = {
    "canceled": ReportType.CANCELED,
    "expired": ReportType.EXPIRED,
    "done_for_day": ReportType.EXPIRED,
    "rejected": ReportType.REJECTED,
}


def decimal_or_none(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def order_body(request: OrderRequest, *, broker_symbol: str) -> dict[str, Any]:
    """POST /v2/orders body. Decimals go as strings (the SDK's request models would turn them
    into floats). gtd is refused: Alpaca has no good-till-date order."""
    tif = TIF_TO_ALPACA.get(request.time_in_force)
    if tif is None:
        raise PermanentBrokerError(
            f"Alpaca has no {request.time_in_force!r} time in force; use day, gtc, ioc or fok."
        )
    if request.type not in ("market", "limit"):
        raise PermanentBrokerError(
            f"OMS sends Alpaca market and limit orders only, not {request.type!r}."
        )
    body: dict[str, Any] = {
        "symbol": broker_symbol,
        "qty": text(request.qty - request.filled_qty),
        "side": request.side,
        "type": request.type,
        "time_in_force": tif,
        "client_order_id": request.order_id,
    }
    if request.type == "limit":
        body["limit_price"] = text(request.limit_price)
    return body


def base_order_id(client_order_id: str) -> str:
    """Our order id inside a client order id (`<id>` or `<id>.r<version>`)."""
    head, mark, tail = (client_order_id or "").rpartition(REPLACE_MARK)
    return head if mark and tail.isdigit() else client_order_id or ""


def replacement_client_id(order_id: str, version: int) -> str:
    return f"{order_id}{REPLACE_MARK}{version}"


def _ts(value: Any) -> datetime:
    if not value:
        return timezone.now()
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _external(order: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"external": True, "broker": "alpaca", "order": order, **extra}


def ack_report(order: dict[str, Any], *, our_id: str) -> ExecutionReport:
    return ExecutionReport(
        report_id=f"{PREFIX}-{order['id']}-new",
        order_id=our_id,
        type=ReportType.ACK,
        ts=_ts(order.get("submitted_at") or order.get("created_at")),
        broker_order_id=order["id"],
        data={} if our_id else _external(order),
    )


def terminal_report(order: dict[str, Any], *, our_id: str, event: str) -> ExecutionReport:
    if event == "rejected" and order.get("replaces") and our_id:
        # Alpaca rejects a replacement when the order it replaces filled first (its docs):
        # our order is not rejected, the change is.
        return ExecutionReport(
            report_id=f"{PREFIX}-{order['id']}-rejected",
            order_id=our_id,
            type=ReportType.MODIFY_REJECTED,
            ts=_ts(order.get("failed_at") or order.get("updated_at")),
            reason="Alpaca rejected the replacement (the original order filled first).",
            broker_order_id=order["id"],
        )
    report_type = TERMINAL_EVENTS[event]
    word = {"done_for_day": "expired"}.get(event, event)
    reason = {
        ReportType.CANCELED: "canceled at Alpaca",
        ReportType.EXPIRED: "expired at Alpaca",
        ReportType.REJECTED: "rejected by Alpaca",
    }[report_type]
    stamp = order.get(f"{word}_at") or order.get("failed_at") or order.get("updated_at")
    return ExecutionReport(
        report_id=f"{PREFIX}-{order['id']}-{word}",
        order_id=our_id,
        type=report_type,
        ts=_ts(stamp),
        leaves_qty=ZERO,
        reason=reason,
        broker_order_id=order["id"],
        data={"cause": "broker"} if our_id else _external(order),
    )


def rejected_report(*, our_id: str, reason: str) -> ExecutionReport:
    """Alpaca refused the order outright (an HTTP 403/422 answer): no broker order exists."""
    return ExecutionReport(
        report_id=f"{PREFIX}-{our_id}-refused",
        order_id=our_id,
        type=ReportType.REJECTED,
        ts=timezone.now(),
        leaves_qty=ZERO,
        reason=f"Alpaca refused the order: {reason}",
    )


def fill_report(
    order: dict[str, Any],
    *,
    our_id: str,
    qty: Decimal,
    price: Decimal,
    cum_qty: Decimal,
    ts: Any,
    complete: bool,
    leaves: Decimal | None,
    extra: dict[str, Any] | None = None,
) -> ExecutionReport:
    trade_id = f"{order['id']}:{text(cum_qty)}"
    return ExecutionReport(
        report_id=f"{PREFIX}-{order['id']}-{text(cum_qty)}",
        order_id=our_id,
        type=ReportType.FILL if complete else ReportType.PARTIAL_FILL,
        ts=_ts(ts),
        fill_qty=qty,
        fill_price=price,
        fee=ZERO,  # Alpaca charges no commission on equities; regulatory fees come later
        leaves_qty=leaves,
        broker_order_id=order["id"],
        trade_id=trade_id,
        data={} if our_id else _external(order, **(extra or {})),
    )


def replaced_report(
    old: dict[str, Any], new: dict[str, Any], *, our_id: str, filled_before: Decimal
) -> ExecutionReport:
    """`old` was replaced by `new`; `filled_before` is what the chain filled before `new`, so
    the OMS order's new TOTAL quantity is filled_before + new qty."""
    new_qty = filled_before + Decimal(str(new["qty"]))
    data: dict[str, Any] = {
        "replaced_broker_order_id": old["id"],
        "broker_order_id": new["id"],
        "new_qty": text(new_qty),
    }
    if new.get("limit_price") not in (None, ""):
        data["new_limit_price"] = text(Decimal(str(new["limit_price"])))
    if not our_id:
        data.update(_external(new, replaced_order=old))
    return ExecutionReport(
        report_id=f"{PREFIX}-{old['id']}-replaced",
        order_id=our_id,
        type=ReportType.REPLACED,
        ts=_ts(old.get("replaced_at") or new.get("created_at")),
        leaves_qty=Decimal(str(new["qty"])) - Decimal(str(new.get("filled_qty") or 0)),
        broker_order_id=new["id"],
        data=data,
    )


def order_view(
    order: dict[str, Any], *, our_id: str, symbol: str, filled_before: Decimal = ZERO
) -> BrokerOrderView:
    """One OMS-level order: a replacement chain folded into its last order."""
    filled = decimal_or_none(order.get("filled_qty")) or ZERO
    return BrokerOrderView(
        broker_order_id=order["id"],
        client_order_id=our_id,
        symbol=symbol,
        side=order.get("side") or "",
        type=order.get("type") or order.get("order_type") or "",
        qty=filled_before + (decimal_or_none(order.get("qty")) or ZERO),
        filled_qty=filled_before + filled,
        limit_price=decimal_or_none(order.get("limit_price")),
        stop_price=decimal_or_none(order.get("stop_price")),
        avg_fill_price=decimal_or_none(order.get("filled_avg_price")),
        status=STATUS_TO_OMS.get(order.get("status") or "", "new"),
        time_in_force=order.get("time_in_force") or "",
        created_at=_ts(order.get("created_at")),
    )


def fill_view(activity: dict[str, Any], *, our_id: str, symbol: str) -> BrokerFillView:
    cum = Decimal(str(activity["cum_qty"]))
    return BrokerFillView(
        trade_id=f"{activity['order_id']}:{text(cum)}",
        broker_order_id=activity["order_id"],
        client_order_id=our_id,
        symbol=symbol,
        side=activity.get("side") or "",
        qty=Decimal(str(activity["qty"])),
        price=Decimal(str(activity["price"])),
        fee=ZERO,
        ts=_ts(activity.get("transaction_time")),
    )


def oms_symbol_of(broker_symbol: str) -> str:
    """Alpaca's symbol → OMS symbol (the instrument's `broker_symbols["alpaca"]`), else as is."""
    from marketdata.models import Instrument

    found = (
        Instrument.objects.filter(broker_symbols__alpaca=broker_symbol)
        .values_list("symbol", flat=True)
        .first()
    )
    return found or broker_symbol


def external_order_view(order: dict[str, Any]) -> BrokerOrderView:
    """The order JSON an update for an order placed outside OMS carries (`data["order"]`) as
    the view the orders side imports (no client id: OMS did not place it)."""
    return order_view(order, our_id="", symbol=oms_symbol_of(str(order.get("symbol") or "")))
