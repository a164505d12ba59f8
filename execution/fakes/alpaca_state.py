"""The state of the loopback Alpaca fake: one paper account, its orders, fills and positions.

Written from Alpaca's trading API documentation and the wire format alpaca-py 0.44 parses
(`alpaca.trading.models`: Order, TradeAccount, Position, Clock, Asset, TradeUpdate,
TradeActivity) — never from OMS's adapter. Pure and synchronous: the ASGI server
(`alpaca_server.py`) fetches quotes, calls these methods on its event loop and sends the
`trade_updates` events they return.

Decimals travel as strings, as Alpaca sends them. Order ids are UUIDs (the SDK rejects others).
Market orders fill at once against the quote (buy at the ask, sell at the bid, else the last
price); limits rest and fill whole when a quote crosses them; `fill()` can fill part of an
order (the control API's partial fills).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from execution.fakes.quotes import FakeQuote, QuoteSource, dict_quote_source

__all__ = ["FakeAccountState", "FakeApiError", "FakeQuote", "QuoteSource", "dict_quote_source"]

ZERO = Decimal("0")
OPEN_STATUSES = ("new", "partially_filled", "accepted", "pending_new")
TIFS = ("day", "gtc", "opg", "cls", "ioc", "fok")


class FakeApiError(Exception):
    """An Alpaca error answer: HTTP status and the JSON envelope {"code", "message"}."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


def not_found(what: str) -> FakeApiError:
    return FakeApiError(404, 40410000, f"{what} not found")


def unprocessable(message: str) -> FakeApiError:
    return FakeApiError(422, 40010001, message)


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise unprocessable(f"invalid number {value!r}") from exc


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


@dataclass
class FakeOrder:
    id: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    qty: Decimal
    time_in_force: str
    limit_price: Decimal | None
    created_at: datetime
    extended_hours: bool = False
    status: str = "new"
    filled_qty: Decimal = ZERO
    filled_avg_price: Decimal | None = None
    updated_at: datetime | None = None
    filled_at: datetime | None = None
    canceled_at: datetime | None = None
    replaced_at: datetime | None = None
    replaced_by: str | None = None
    replaces: str | None = None
    outside: bool = False  # placed through the fake's "outside" endpoint (the broker's app)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def leaves(self) -> Decimal:
        return self.qty - self.filled_qty

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at or self.created_at),
            "submitted_at": iso(self.created_at),
            "filled_at": iso(self.filled_at),
            "expired_at": None,
            "canceled_at": iso(self.canceled_at),
            "failed_at": None,
            "replaced_at": iso(self.replaced_at),
            "replaced_by": self.replaced_by,
            "replaces": self.replaces,
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"alpaca-fake:{self.symbol}")),
            "symbol": self.symbol,
            "asset_class": "us_equity",
            "notional": None,
            "qty": _text(self.qty),
            "filled_qty": _text(self.filled_qty),
            "filled_avg_price": _text(self.filled_avg_price),
            "order_class": "",
            "order_type": self.type,
            "type": self.type,
            "side": self.side,
            "time_in_force": self.time_in_force,
            "limit_price": _text(self.limit_price),
            "stop_price": None,
            "status": self.status,
            "extended_hours": self.extended_hours,
            "legs": None,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
        }


@dataclass
class FakeAccountState:
    key_id: str
    secret_key: str
    cash: Decimal = Decimal("100000")
    account_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    account_number: str = "PA0FAKE0001"
    orders: dict[str, FakeOrder] = field(default_factory=dict)
    by_client: dict[str, str] = field(default_factory=dict)
    activities: list[dict[str, Any]] = field(default_factory=list)
    positions: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # qty, avg

    # ------------------------------------------------------------------ auth

    def authorized(self, key_id: str | None, secret_key: str | None) -> bool:
        return key_id == self.key_id and secret_key == self.secret_key

    # ------------------------------------------------------------------ orders

    def order_create(
        self, body: dict[str, Any], *, quote: FakeQuote | None, outside: bool = False
    ) -> tuple[FakeOrder, list[dict]]:
        order = self._order_from_body(body, outside=outside)
        if order.side == "buy":
            price = order.limit_price or (quote and (quote.ask or quote.last)) or ZERO
            if order.qty * price > self.buying_power:
                raise FakeApiError(403, 40310000, "insufficient buying power")
        self.orders[order.id] = order
        self.by_client[order.client_order_id] = order.id
        events = [self._event("new", order)]
        events += self._work(order, quote)
        return order, events

    def _order_from_body(self, body: dict[str, Any], *, outside: bool) -> FakeOrder:
        symbol = str(body.get("symbol") or "").upper()
        if not symbol:
            raise unprocessable("symbol is required")
        side = body.get("side")
        if side not in ("buy", "sell"):
            raise unprocessable(f"invalid side {side!r}")
        kind = body.get("type") or body.get("order_type")
        if kind not in ("market", "limit"):
            raise unprocessable(f"order type {kind!r} is not supported by this fake")
        tif = body.get("time_in_force")
        if tif not in TIFS:
            raise unprocessable(f"invalid time_in_force {tif!r}")
        qty = _dec(body.get("qty"))
        if qty is None or qty <= 0:
            raise unprocessable("qty must be > 0")
        limit = _dec(body.get("limit_price"))
        if kind == "limit" and (limit is None or limit <= 0):
            raise unprocessable("limit_price is required for limit orders")
        if kind == "market" and limit is not None:
            raise unprocessable("limit_price must not be given for market orders")
        client_id = str(body.get("client_order_id") or uuid.uuid4())
        if len(client_id) > 128:
            raise unprocessable("client_order_id must be at most 128 characters")
        if client_id in self.by_client:
            raise unprocessable("client_order_id must be unique")
        return FakeOrder(
            id=str(uuid.uuid4()),
            client_order_id=client_id,
            symbol=symbol,
            side=side,
            type=kind,
            qty=qty,
            time_in_force=tif,
            limit_price=limit,
            created_at=now_utc(),
            extended_hours=bool(body.get("extended_hours")),
            outside=outside,
        )

    def order_get(self, order_id: str) -> FakeOrder:
        order = self.orders.get(order_id)
        if order is None:
            raise not_found("order")
        return order

    def order_by_client_id(self, client_order_id: str) -> FakeOrder:
        order_id = self.by_client.get(client_order_id)
        if order_id is None:
            raise not_found("order")
        return self.orders[order_id]

    def orders_list(self, params: dict[str, str]) -> list[FakeOrder]:
        status = params.get("status") or "open"
        if status not in ("open", "closed", "all"):
            raise unprocessable(f"invalid status {status!r}")
        rows = list(self.orders.values())
        if status == "open":
            rows = [o for o in rows if o.is_open]
        elif status == "closed":
            rows = [o for o in rows if not o.is_open]
        after, until = _time_param(params.get("after")), _time_param(params.get("until"))
        if after is not None:
            rows = [o for o in rows if o.created_at > after]
        if until is not None:
            rows = [o for o in rows if o.created_at < until]
        symbols = {s.strip().upper() for s in (params.get("symbols") or "").split(",") if s}
        if symbols:
            rows = [o for o in rows if o.symbol in symbols]
        if params.get("side"):
            rows = [o for o in rows if o.side == params["side"]]
        rows.sort(key=lambda o: o.created_at, reverse=params.get("direction", "desc") == "desc")
        limit = min(int(params.get("limit") or 50), 500)
        return rows[:limit]

    def order_replace(
        self, order_id: str, body: dict[str, Any], *, quote: FakeQuote | None
    ) -> tuple[FakeOrder, list[dict]]:
        old = self.order_get(order_id)
        if not old.is_open:
            raise FakeApiError(422, 42210000, f"order is not replaceable (status {old.status})")
        qty = _dec(body.get("qty")) if body.get("qty") is not None else old.leaves
        if qty is None or qty <= 0:
            raise unprocessable("qty must be > 0")
        limit = _dec(body.get("limit_price")) if body.get("limit_price") is not None else None
        if limit is not None and old.type != "limit":
            raise unprocessable("limit_price can only be replaced on a limit order")
        client_id = str(body.get("client_order_id") or uuid.uuid4())
        if client_id in self.by_client:
            raise unprocessable("client_order_id must be unique")
        now = now_utc()
        new = FakeOrder(
            id=str(uuid.uuid4()),
            client_order_id=client_id,
            symbol=old.symbol,
            side=old.side,
            type=old.type,
            qty=qty,
            time_in_force=body.get("time_in_force") or old.time_in_force,
            limit_price=limit if limit is not None else old.limit_price,
            created_at=now,
            extended_hours=old.extended_hours,
            replaces=old.id,
            outside=old.outside,
        )
        old.status, old.replaced_by, old.replaced_at, old.updated_at = "replaced", new.id, now, now
        self.orders[new.id] = new
        self.by_client[client_id] = new.id
        events = [self._event("replaced", old), self._event("new", new)]
        events += self._work(new, quote)
        return new, events

    def order_cancel(self, order_id: str) -> list[dict]:
        order = self.order_get(order_id)
        if not order.is_open:
            raise FakeApiError(422, 42210000, f"order is not cancelable (status {order.status})")
        order.status = "canceled"
        order.canceled_at = order.updated_at = now_utc()
        return [self._event("canceled", order)]

    # ------------------------------------------------------------------ fills

    def on_quote(self, symbol: str, quote: FakeQuote) -> list[dict]:
        """Fill every resting order of `symbol` the quote crosses (oldest first)."""
        events: list[dict] = []
        for order in sorted(self.orders.values(), key=lambda o: o.created_at):
            if order.symbol == symbol and order.is_open:
                events += self._work(order, quote)
        return events

    def _work(self, order: FakeOrder, quote: FakeQuote | None) -> list[dict]:
        price = _crossing(order, quote)
        if price is not None:
            return self.fill(order, qty=order.leaves, price=price)
        if order.time_in_force in ("ioc", "fok") and order.is_open:
            order.status = "canceled"
            order.canceled_at = order.updated_at = now_utc()
            return [self._event("canceled", order)]
        return []

    def fill(self, order: FakeOrder, *, qty: Decimal, price: Decimal) -> list[dict]:
        if not order.is_open or qty <= 0 or qty > order.leaves:
            raise unprocessable(f"cannot fill {qty} of order {order.id} ({order.status})")
        now = now_utc()
        total = (order.filled_avg_price or ZERO) * order.filled_qty + price * qty
        order.filled_qty += qty
        order.filled_avg_price = (total / order.filled_qty).quantize(Decimal("0.0001"))
        order.updated_at = now
        done = order.filled_qty == order.qty
        order.status = "filled" if done else "partially_filled"
        if done:
            order.filled_at = now
        signed = qty if order.side == "buy" else -qty
        self.cash -= signed * price
        position_qty = self._position_add(order.symbol, signed, price)
        execution_id = str(uuid.uuid4())
        self.activities.append(
            {
                "id": f"{now.strftime('%Y%m%d%H%M%S%f')[:17]}::{execution_id}",
                "account_id": self.account_id,
                "activity_type": "FILL",
                "transaction_time": iso(now),
                "type": "fill" if done else "partial_fill",
                "price": _text(price),
                "qty": _text(qty),
                "side": order.side,
                "symbol": order.symbol,
                "leaves_qty": _text(order.leaves),
                "order_id": order.id,
                "cum_qty": _text(order.filled_qty),
                "order_status": order.status,
                "_ts": now,
                "_seq": len(self.activities),
            }
        )
        extra = {"price": _text(price), "qty": _text(qty), "position_qty": _text(position_qty)}
        return [self._event("fill" if done else "partial_fill", order, execution_id, extra)]

    def _position_add(self, symbol: str, signed: Decimal, price: Decimal) -> Decimal:
        qty, avg = self.positions.get(symbol, (ZERO, ZERO))
        new_qty = qty + signed
        if new_qty == 0:
            self.positions.pop(symbol, None)
            return ZERO
        if qty == 0 or (qty > 0) != (new_qty > 0):
            avg = price  # opened, or flipped sides
        elif (qty > 0) == (signed > 0):
            avg = ((qty * avg + signed * price) / new_qty).quantize(Decimal("0.0001"))
        self.positions[symbol] = (new_qty, avg)
        return new_qty

    def activities_fill(self, params: dict[str, str]) -> list[dict[str, Any]]:
        rows = list(self.activities)
        after, until = _time_param(params.get("after")), _time_param(params.get("until"))
        if after is not None:
            rows = [a for a in rows if a["_ts"] > after]
        if until is not None:
            rows = [a for a in rows if a["_ts"] < until]
        descending = params.get("direction", "desc") == "desc"
        rows.sort(key=lambda a: a["_seq"], reverse=descending)
        token = params.get("page_token")
        if token:
            seen = [a["_seq"] for a in self.activities if a["id"] == token]
            if seen:
                mark = seen[0]
                rows = [a for a in rows if (a["_seq"] < mark if descending else a["_seq"] > mark)]
        size = min(int(params.get("page_size") or 100), 100)
        return [{k: v for k, v in a.items() if not k.startswith("_")} for a in rows[:size]]

    # ------------------------------------------------------------------ reads

    @property
    def buying_power(self) -> Decimal:
        return self.cash

    # ------------------------------------------------------------------ events

    def _event(
        self,
        event: str,
        order: FakeOrder,
        execution_id: str | None = None,
        extra: dict | None = None,
    ) -> dict:
        data = {
            "event": event,
            "execution_id": execution_id or str(uuid.uuid4()),
            "order": order.to_json(),  # a snapshot: later changes do not alter a sent event
            "timestamp": iso(order.updated_at or order.created_at),
        }
        data.update(extra or {})
        return {"stream": "trade_updates", "data": data}


def _crossing(order: FakeOrder, quote: FakeQuote | None) -> Decimal | None:
    """The price `order` fills at against `quote` now, or None."""
    if quote is None or not order.is_open:
        return None
    buy_at = quote.ask if quote.ask is not None else quote.last
    sell_at = quote.bid if quote.bid is not None else quote.last
    price = buy_at if order.side == "buy" else sell_at
    if price is None:
        return None
    if order.type == "market" or order.limit_price is None:
        return price
    if order.side == "buy":
        return price if price <= order.limit_price else None
    return price if price >= order.limit_price else None


def _time_param(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise unprocessable(f"invalid time {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
