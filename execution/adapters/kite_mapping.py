"""Kite Connect ↔ OMS: symbols, tags, order parameters, statuses, times and report ids.

What OMS sends to Kite natively: market and limit orders, validity DAY and IOC, products
CNC (default), MIS and NRML (the connection's `settings["product"]`). Everything else is
held by OMS itself (stops, trailing stops, GTT, brackets arrive here as market/limit when
they trigger) or refused here with a clear reason: `gtc`/`gtd` (Kite has no
good-till-cancel for regular orders; a GTT is OMS's own), `fok` (Kite has none),
fractional quantities.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from execution.protocol import BrokerFillView, BrokerOrderView, OrderRequest

BROKER = "kite"
IST = timezone(timedelta(hours=5, minutes=30))
SESSION_RESET = time(6, 0)  # Kite access tokens stop working at 06:00 IST the next day
TAG_LENGTH = 20
PRODUCTS = ("CNC", "MIS", "NRML")
VALIDITY = {"day": "DAY", "ioc": "IOC"}

# Kite's order statuses → OMS order statuses (BrokerOrderView.status).
_PENDING_NEW = (
    "PUT ORDER REQ RECEIVED",
    "VALIDATION PENDING",
    "OPEN PENDING",
    "AMO REQ RECEIVED",
    "TRIGGER PENDING",
)
_PENDING_CHANGE = ("MODIFY VALIDATION PENDING", "MODIFY PENDING", "UPDATE", "MODIFIED")
TERMINAL = ("COMPLETE", "CANCELLED", "REJECTED")
# Statuses that mean Kite has accepted the order (an OMS "ack").
ACCEPTED = ("OPEN", "TRIGGER PENDING", "UPDATE", "MODIFIED", "COMPLETE", "CANCELLED")


def order_tag(order_id: str) -> str:
    """A compact, unique tag (≤ 20 characters) for OMS's order id: the first 20 hex digits
    of its UUID (80 bits), or of the SHA-256 of an id that is not a UUID."""
    try:
        digits = uuid.UUID(str(order_id)).hex
    except ValueError:
        digits = hashlib.sha256(str(order_id).encode()).hexdigest()
    return digits[:TAG_LENGTH]


def kite_symbol(*, symbol: str) -> tuple[str, str]:
    """OMS symbol → (exchange, tradingsymbol): the instrument's `broker_symbols["kite"]`
    ("NSE:INFY"), else "<exchange code>:<symbol>"."""
    from marketdata.models import Instrument

    row = (
        Instrument.objects.filter(symbol=symbol)
        .values_list("broker_symbols", "exchange_id")
        .first()
    )
    if row is None:
        raise ValueError(f"Unknown instrument {symbol!r}.")
    broker_symbols, exchange_code = row
    mapped = (broker_symbols or {}).get(BROKER) or f"{exchange_code}:{symbol}"
    exchange, _, tradingsymbol = str(mapped).partition(":")
    if not exchange or not tradingsymbol:
        raise ValueError(f"Kite symbol {mapped!r} of {symbol} is not EXCHANGE:SYMBOL.")
    return exchange, tradingsymbol


def oms_symbol(*, exchange: str, tradingsymbol: str) -> str:
    """Kite's (exchange, tradingsymbol) → OMS symbol; the tradingsymbol when OMS has no such
    instrument (an order placed outside OMS on something OMS does not list)."""
    from marketdata.models import Instrument

    mapped = f"{exchange}:{tradingsymbol}"
    symbol = (
        Instrument.objects.filter(broker_symbols__kite=mapped)
        .values_list("symbol", flat=True)
        .first()
    )
    if symbol:
        return symbol
    symbol = (
        Instrument.objects.filter(symbol=tradingsymbol, exchange_id=exchange)
        .values_list("symbol", flat=True)
        .first()
    )
    return symbol or tradingsymbol


def request_problem(request: OrderRequest) -> str:
    """Why Kite cannot take this order as it stands ("" when it can)."""
    if request.type not in ("market", "limit"):
        return (
            f"Kite takes market and limit orders from OMS; {request.type} orders are held by OMS."
        )
    if request.time_in_force not in VALIDITY:
        return (
            f"Kite has no {request.time_in_force} validity for regular orders: use day or ioc "
            "(a good-till-cancel order is an OMS GTT)."
        )
    if request.qty != request.qty.to_integral_value() or request.qty <= 0:
        return "Kite quantities are whole numbers of shares (or lots)."
    if request.type == "limit" and (request.limit_price is None or request.limit_price <= 0):
        return "A limit order needs a positive limit price."
    return ""


def place_params(
    request: OrderRequest, *, exchange: str, tradingsymbol: str, product: str, tag: str
) -> dict[str, Any]:
    """The keyword arguments of `KiteConnect.place_order` for an OMS order."""
    params: dict[str, Any] = {
        "variety": "regular",
        "exchange": exchange,
        "tradingsymbol": tradingsymbol,
        "transaction_type": "BUY" if request.side == "buy" else "SELL",
        "quantity": int(request.qty - request.filled_qty),
        "product": product,
        "order_type": "MARKET" if request.type == "market" else "LIMIT",
        "validity": VALIDITY[request.time_in_force],
        "tag": tag,
    }
    if request.type == "limit":
        params["price"] = format(request.limit_price, "f")  # exact, as a form string
    if request.display_qty:
        params["disclosed_quantity"] = int(request.display_qty)
    return params


def product_of(settings: dict[str, Any]) -> str:
    product = str(settings.get("product") or "CNC").upper()
    if product not in PRODUCTS:
        raise ValueError(f"Kite product must be one of {', '.join(PRODUCTS)}, not {product!r}.")
    return product


def oms_status(order: dict[str, Any]) -> str:
    status = str(order.get("status") or "")
    filled = dec(order.get("filled_quantity"))
    if status == "COMPLETE":
        return "filled"
    if status == "CANCELLED":
        return "canceled"
    if status == "REJECTED":
        return "rejected"
    if status in _PENDING_NEW and not filled:
        return "pending_new"
    if status == "CANCEL PENDING":
        return "pending_cancel"
    return "partially_filled" if filled else "new"


def oms_type(order_type: str) -> str:
    return {"MARKET": "market", "LIMIT": "limit", "SL": "stop_limit", "SL-M": "stop"}.get(
        order_type, order_type.lower()
    )


def dec(value: Any) -> Decimal:
    """A Kite number (int, float or string; None) as a Decimal, exactly as printed."""
    if value in (None, ""):
        return Decimal("0")
    try:
        return plain(Decimal(str(value)))
    except InvalidOperation:
        return Decimal("0")


def plain(value: Decimal) -> Decimal:
    """Without trailing zeros, never in exponent form (1500, not 1.5E+3)."""
    value = value.normalize()
    return value.quantize(Decimal(1)) if value.as_tuple().exponent > 0 else value


def price_or_none(value: Any) -> Decimal | None:
    price = dec(value)
    return price if price else None


def kite_time(value: Any) -> datetime | None:
    """Kite's "YYYY-MM-DD HH:MM:SS" (IST, no zone) or a datetime → an aware datetime."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.strptime(str(value)[:19], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=IST)


def session_expiry(*, now: datetime) -> datetime:
    """When an access token made at `now` stops working: the next 06:00 IST."""
    local = now.astimezone(IST)
    reset = datetime.combine(local.date(), SESSION_RESET, tzinfo=IST)
    return reset if local < reset else reset + timedelta(days=1)


def postback_checksum(*, order_id: str, order_timestamp: str, api_secret: str) -> str:
    return hashlib.sha256(f"{order_id}{order_timestamp}{api_secret}".encode()).hexdigest()


def report_id(broker_order_id: str, *parts: object) -> str:
    """Deterministic report ids: the same event from the ticker, a postback or polling gets
    the same id, so the orders side applies it once."""
    return "-".join(["kite", str(broker_order_id), *map(str, parts)])[:64]


def order_side(order: dict[str, Any]) -> str:
    return "buy" if order.get("transaction_type") == "BUY" else "sell"


def order_view(order: dict[str, Any], ours: dict[str, str]) -> BrokerOrderView:
    """A Kite order as OMS's reconciliation reads it; `ours`: Kite id → OMS order id."""
    order_type = str(order.get("order_type") or "")
    return BrokerOrderView(
        broker_order_id=str(order["order_id"]),
        client_order_id=ours.get(str(order["order_id"]), ""),
        symbol=oms_symbol(
            exchange=str(order.get("exchange")), tradingsymbol=str(order.get("tradingsymbol"))
        ),
        side=order_side(order),
        type=oms_type(order_type),
        qty=dec(order.get("quantity")),
        filled_qty=dec(order.get("filled_quantity")),
        limit_price=price_or_none(order.get("price")) if order_type in ("LIMIT", "SL") else None,
        stop_price=price_or_none(order.get("trigger_price")),
        avg_fill_price=price_or_none(order.get("average_price")),
        status=oms_status(order),
        time_in_force=str(order.get("validity") or "DAY").lower(),
        created_at=kite_time(order.get("order_timestamp")) or datetime.now(IST),
    )


def fill_view(trade: dict[str, Any], ours: dict[str, str]) -> BrokerFillView:
    """One Kite trade (`GET /trades`); Kite reports no fees per trade (0 here)."""
    return BrokerFillView(
        trade_id=str(trade["trade_id"]),
        broker_order_id=str(trade["order_id"]),
        client_order_id=ours.get(str(trade["order_id"]), ""),
        symbol=oms_symbol(
            exchange=str(trade.get("exchange")), tradingsymbol=str(trade.get("tradingsymbol"))
        ),
        side=order_side(trade),
        qty=dec(trade.get("quantity")),
        price=dec(trade.get("average_price")),
        fee=Decimal("0"),
        ts=kite_time(trade.get("fill_timestamp")) or datetime.now(IST),
    )


def external_order_view(
    data: dict[str, Any], *, broker_order_id: str, ts: datetime | None
) -> BrokerOrderView:
    """What an update for an order placed outside OMS carries (`kite_updates._external`: the
    order's symbol, side, type, qty, price, status, validity) as the view the orders side
    imports. Its fills come as their own reports (one per Kite trade)."""
    kite = data.get("kite") or {}
    limit = price_or_none(data.get("limit_price"))
    return BrokerOrderView(
        broker_order_id=str(broker_order_id),
        client_order_id="",
        symbol=str(data.get("symbol") or kite.get("tradingsymbol") or ""),
        side=str(data.get("side") or ""),
        type=str(data.get("type") or "market"),
        qty=dec(data.get("qty")),
        filled_qty=Decimal("0"),
        limit_price=limit,
        stop_price=None,
        avg_fill_price=None,
        status=str(data.get("status") or "new"),
        time_in_force=str(kite.get("validity") or "DAY").lower(),
        created_at=ts or datetime.now(IST),
    )
