"""The state of the Kite Connect fake: sessions, one account's orders, trades and positions.

Written from Kite Connect v3's documented wire format (https://kite.trade/docs/connect/v3/)
and the `kiteconnect` SDK's requests, not from OMS's adapter. Plain Python, no I/O: the
server (`kite_server.py`) calls it from its event loop only, so it needs no locks.

Every change of an order produces an update (the order as `GET /orders` would show it);
the server sends each one over the ticker and, for the statuses Kite posts back, to the
postback URL. Fills come from a quote source: `quotes("NSE:INFY") -> {"bid", "ask", "last"}`
(any of them may be missing) or None.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

IST = timezone(timedelta(hours=5, minutes=30))
VARIETIES = ("regular", "amo", "co", "iceberg", "auction")
EXCHANGES = ("NSE", "BSE", "NFO", "BFO", "CDS", "MCX")
PRODUCTS = ("CNC", "MIS", "NRML", "MTF")
ORDER_TYPES = ("MARKET", "LIMIT", "SL", "SL-M")
TERMINAL = ("COMPLETE", "CANCELLED", "REJECTED")
POSTBACK_STATUSES = ("COMPLETE", "CANCELLED", "REJECTED", "UPDATE")
ORDER_LIMITS = ((1.0, 10), (60.0, 400), (86400.0, 5000))  # Kite: per second, minute, day

QuoteSource = Callable[[str], dict[str, Any] | None]


class KiteError(Exception):
    """An answer in Kite's error envelope: {"status": "error", "message", "error_type"}."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def kite_now() -> str:
    return datetime.now(IST).strftime("%Y-%m-%d %H:%M:%S")


def sha256_hex(*parts: str) -> str:
    return hashlib.sha256("".join(parts).encode()).hexdigest()


def _num(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def _dec(value: Any, name: str) -> Decimal:
    try:
        return Decimal(str(value))
    except ArithmeticError as exc:
        raise KiteError(400, "InputException", f"Invalid `{name}`.") from exc


@dataclass
class Faults:
    """What the control API asked for; each counter is consumed one event at a time."""

    reject_next: int = 0
    reject_message: str = "RMS:Margin Exceeds, Required:0, Available:0"
    rate_limit_next: int = 0
    timeout_next: int = 0
    timeout_s: float = 10.0
    partial_next: Decimal | None = None
    drop_ticker_next: int = 0
    duplicate_next: int = 0
    reorder_next: int = 0


@dataclass
class KiteBook:
    api_key: str
    api_secret: str
    quotes: QuoteSource
    user_id: str = "AB1234"
    cash: Decimal = Decimal("1000000")
    faults: Faults = field(default_factory=Faults)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    request_tokens: set[str] = field(default_factory=set)
    access_tokens: set[str] = field(default_factory=set)
    placed_at: deque = field(default_factory=deque)  # monotonic times of accepted placements
    orders_received: int = 0  # POST /orders/{variety} requests that reached the fake
    _seq: int = 250101000000000
    _trade_seq: int = 90000000

    # ------------------------------------------------------------------ sessions

    def issue_request_token(self) -> str:
        token = secrets.token_hex(16)
        self.request_tokens.add(token)
        return token

    def session_token(self, *, api_key: str, request_token: str, checksum: str) -> dict:
        if api_key != self.api_key:
            raise KiteError(403, "TokenException", "Invalid `api_key`.")
        if request_token not in self.request_tokens:
            raise KiteError(403, "TokenException", "Token is invalid or has expired.")
        if checksum != sha256_hex(api_key, request_token, self.api_secret):
            raise KiteError(403, "TokenException", "Invalid `checksum`.")
        self.request_tokens.discard(request_token)
        access_token = secrets.token_hex(16)
        self.access_tokens.add(access_token)
        return {
            **self.profile(),
            "api_key": api_key,
            "access_token": access_token,
            "public_token": secrets.token_hex(8),
            "refresh_token": "",
            "enctoken": secrets.token_hex(8),
            "login_time": kite_now(),
        }

    def authorize(self, header: str) -> None:
        scheme, _, credentials = header.partition(" ")
        api_key, _, access_token = credentials.partition(":")
        if scheme != "token" or api_key != self.api_key or access_token not in self.access_tokens:
            raise KiteError(403, "TokenException", "Incorrect `api_key` or `access_token`.")

    def expire_sessions(self) -> None:
        self.access_tokens.clear()

    def profile(self) -> dict:
        return {
            "user_id": self.user_id,
            "user_type": "individual",
            "email": "trader@example.com",
            "user_name": "Fake Trader",
            "user_shortname": "Fake",
            "broker": "ZERODHA",
            "exchanges": list(EXCHANGES),
            "products": list(PRODUCTS),
            "order_types": list(ORDER_TYPES),
            "avatar_url": None,
            "meta": {"demat_consent": "physical"},
        }

    # ------------------------------------------------------------------ limits

    def check_order_limits(self) -> None:
        """Kite's published order limits, over sliding windows; over → 429."""
        now = time.monotonic()
        while self.placed_at and now - self.placed_at[0] > ORDER_LIMITS[-1][0]:
            self.placed_at.popleft()
        for window, limit in ORDER_LIMITS:
            if sum(1 for stamp in self.placed_at if now - stamp <= window) >= limit:
                raise KiteError(429, "NetworkException", "Too many requests")
        self.placed_at.append(now)

    # ------------------------------------------------------------------ orders

    def place(self, *, variety: str, form: dict[str, str], outside: bool = False) -> dict:
        """Validate and accept an order; returns its first updates (placed, then filled…)."""
        if variety not in VARIETIES:
            raise KiteError(400, "InputException", f"Invalid `variety` {variety!r}.")
        for name in ("exchange", "tradingsymbol", "transaction_type", "quantity", "product"):
            if not form.get(name):
                raise KiteError(400, "InputException", f"Missing `{name}`.")
        order_type = form.get("order_type", "")
        if order_type not in ORDER_TYPES:
            raise KiteError(400, "InputException", "Invalid `order_type`.")
        if form["exchange"] not in EXCHANGES or form["product"] not in PRODUCTS:
            raise KiteError(400, "InputException", "Invalid `exchange` or `product`.")
        if form["transaction_type"] not in ("BUY", "SELL"):
            raise KiteError(400, "InputException", "Invalid `transaction_type`.")
        qty = _dec(form["quantity"], "quantity")
        price = _dec(form.get("price") or "0", "price")
        if qty <= 0 or qty != qty.to_integral_value():
            raise KiteError(400, "InputException", "Quantity should be a positive whole number.")
        if order_type == "LIMIT" and price <= 0:
            raise KiteError(400, "InputException", "Price should be greater than 0.")
        if len(form.get("tag") or "") > 20:
            raise KiteError(400, "InputException", "Tag length should be at most 20.")
        self._seq += 1
        order_id = str(self._seq)
        now = kite_now()
        order = {
            "placed_by": "OUTSIDE" if outside else self.user_id,
            "order_id": order_id,
            "exchange_order_id": None,
            "parent_order_id": None,
            "status": "OPEN",
            "status_message": None,
            "status_message_raw": None,
            "order_timestamp": now,
            "exchange_update_timestamp": None,
            "exchange_timestamp": None,
            "variety": variety,
            "modified": False,
            "exchange": form["exchange"],
            "tradingsymbol": form["tradingsymbol"],
            "instrument_token": zlib.crc32(form["tradingsymbol"].encode()) % 10_000_000,
            "order_type": order_type,
            "transaction_type": form["transaction_type"],
            "validity": form.get("validity") or "DAY",
            "validity_ttl": 0,
            "product": form["product"],
            "quantity": _num(qty),
            "disclosed_quantity": int(form.get("disclosed_quantity") or 0),
            "price": _num(price) if order_type != "MARKET" else 0,
            "trigger_price": _num(_dec(form.get("trigger_price") or "0", "trigger_price")),
            "average_price": 0,
            "filled_quantity": 0,
            "pending_quantity": _num(qty),
            "cancelled_quantity": 0,
            "market_protection": 0,
            "meta": {},
            "tag": form.get("tag") or None,
            "tags": [form["tag"]] if form.get("tag") else [],
            "guid": secrets.token_hex(8),
        }
        self.orders[order_id] = order
        self.history[order_id] = []
        updates = [self._snapshot(order)]
        if self.faults.reject_next > 0:
            self.faults.reject_next -= 1
            order.update(status="REJECTED", status_message=self.faults.reject_message)
            order["status_message_raw"] = order["status_message"]
            order["pending_quantity"] = 0
            return {"order_id": order_id, "updates": [*updates, self._snapshot(order)]}
        order["exchange_order_id"] = str(1100000000000000 + self._seq % 10**12)
        order["exchange_timestamp"] = order["exchange_update_timestamp"] = now
        return {"order_id": order_id, "updates": updates + self.match(order_id)}

    def get(self, order_id: str) -> dict[str, Any]:
        order = self.orders.get(order_id)
        if order is None:
            raise KiteError(400, "InputException", "Couldn't find that `order_id`.")
        return order

    def modify(self, *, variety: str, order_id: str, form: dict[str, str]) -> list[dict]:
        order = self.get(order_id)
        if order["variety"] != variety:
            raise KiteError(400, "InputException", "Invalid `variety` for this order.")
        if order["status"] in TERMINAL:
            raise KiteError(
                400, "OrderException", f"Order cannot be modified as it is being {order['status']}."
            )
        if form.get("quantity"):
            qty = _dec(form["quantity"], "quantity")
            if qty <= Decimal(str(order["filled_quantity"])):
                raise KiteError(400, "InputException", "Quantity should be more than filled.")
            order["quantity"] = _num(qty)
            order["pending_quantity"] = _num(qty - Decimal(str(order["filled_quantity"])))
        if form.get("price"):
            order["price"] = _num(_dec(form["price"], "price"))
        if form.get("order_type") in ORDER_TYPES:
            order["order_type"] = form["order_type"]
        order["modified"] = True
        order["status"] = "UPDATE"
        order["exchange_update_timestamp"] = kite_now()
        updates = [self._snapshot(order)]
        order["status"] = "OPEN"
        return [*updates, self._snapshot(order), *self.match(order_id)]

    def cancel(self, *, variety: str, order_id: str) -> list[dict]:
        order = self.get(order_id)
        if order["status"] in TERMINAL:
            raise KiteError(
                400,
                "OrderException",
                f"Order cannot be cancelled as it is being {order['status']}.",
            )
        order["status"] = "CANCELLED"
        order["cancelled_quantity"] = order["pending_quantity"]
        order["pending_quantity"] = 0
        order["status_message"] = "Cancelled by user"
        order["exchange_update_timestamp"] = kite_now()
        return [self._snapshot(order)]

    def match(self, order_id: str) -> list[dict]:
        """Fill a working order against the quote when it crosses (all, or the partial size
        the control API asked for); returns the updates it made."""
        order = self.orders[order_id]
        if order["status"] != "OPEN" or order["order_type"] not in ("MARKET", "LIMIT"):
            return []
        quote = self.quotes(f"{order['exchange']}:{order['tradingsymbol']}") or {}
        buy = order["transaction_type"] == "BUY"
        side = quote.get("ask" if buy else "bid") or quote.get("last")
        if side is None:
            return []
        price = Decimal(str(side))
        if order["order_type"] == "LIMIT":
            limit = Decimal(str(order["price"]))
            if (buy and price > limit) or (not buy and price < limit):
                return []
        pending = Decimal(str(order["pending_quantity"]))
        qty = pending
        if self.faults.partial_next is not None:
            qty = min(pending, self.faults.partial_next)
            self.faults.partial_next = None
        return [self.fill(order_id, qty=qty, price=price)]

    def fill(self, order_id: str, *, qty: Decimal, price: Decimal) -> dict:
        order = self.get(order_id)
        if order["status"] not in ("OPEN", "UPDATE", "TRIGGER PENDING"):
            raise KiteError(400, "OrderException", "Order is not open.")
        filled = Decimal(str(order["filled_quantity"]))
        qty = min(qty, Decimal(str(order["pending_quantity"])))
        avg = Decimal(str(order["average_price"]))
        new_filled = filled + qty
        order["average_price"] = _num(
            ((avg * filled + price * qty) / new_filled).quantize(Decimal("0.0001")).normalize()
        )
        order["filled_quantity"] = _num(new_filled)
        order["pending_quantity"] = _num(Decimal(str(order["quantity"])) - new_filled)
        order["status"] = "COMPLETE" if order["pending_quantity"] == 0 else "OPEN"
        now = kite_now()
        order["exchange_update_timestamp"] = now
        self._trade_seq += 1
        self.trades.append(
            {
                "trade_id": str(self._trade_seq),
                "order_id": order_id,
                "exchange": order["exchange"],
                "tradingsymbol": order["tradingsymbol"],
                "instrument_token": order["instrument_token"],
                "product": order["product"],
                "average_price": _num(price),
                "quantity": _num(qty),
                "exchange_order_id": order["exchange_order_id"],
                "transaction_type": order["transaction_type"],
                "fill_timestamp": now,
                "order_timestamp": now[11:],
                "exchange_timestamp": now,
            }
        )
        sign = -1 if order["transaction_type"] == "BUY" else 1
        self.cash += sign * qty * price
        return self._snapshot(order)

    def match_all(self) -> list[dict]:
        updates: list[dict] = []
        for order_id in list(self.orders):
            updates.extend(self.match(order_id))
        return updates

    def _snapshot(self, order: dict[str, Any]) -> dict[str, Any]:
        snapshot = dict(order)
        self.history[order["order_id"]].append(snapshot)
        return snapshot

    # ------------------------------------------------------------------ reads

    def order_list(self) -> list[dict]:
        return [dict(order) for order in self.orders.values()]

    def order_trades(self, order_id: str) -> list[dict]:
        self.get(order_id)
        return [trade for trade in self.trades if trade["order_id"] == order_id]

    def positions(self) -> dict[str, list[dict]]:
        rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        for trade in self.trades:
            key = (trade["exchange"], trade["tradingsymbol"], trade["product"])
            row = rows.setdefault(
                key,
                {
                    "buy_q": Decimal(0),
                    "buy_v": Decimal(0),
                    "sell_q": Decimal(0),
                    "sell_v": Decimal(0),
                },
            )
            qty, price = Decimal(str(trade["quantity"])), Decimal(str(trade["average_price"]))
            prefix = "buy" if trade["transaction_type"] == "BUY" else "sell"
            row[f"{prefix}_q"] += qty
            row[f"{prefix}_v"] += qty * price
        net = [self._position(key, row) for key, row in rows.items()]
        return {"net": net, "day": [dict(position) for position in net]}

    def _position(self, key: tuple[str, str, str], row: dict[str, Decimal]) -> dict[str, Any]:
        exchange, symbol, product = key
        quantity = row["buy_q"] - row["sell_q"]
        quote = self.quotes(f"{exchange}:{symbol}") or {}
        last = Decimal(str(quote.get("last") or 0))
        buy_price = row["buy_v"] / row["buy_q"] if row["buy_q"] else Decimal(0)
        sell_price = row["sell_v"] / row["sell_q"] if row["sell_q"] else Decimal(0)
        pnl = row["sell_v"] - row["buy_v"] + quantity * last
        return {
            "tradingsymbol": symbol,
            "exchange": exchange,
            "instrument_token": zlib.crc32(symbol.encode()) % 10_000_000,
            "product": product,
            "quantity": _num(quantity),
            "overnight_quantity": 0,
            "multiplier": 1,
            "average_price": _num(
                (buy_price if quantity >= 0 else sell_price).quantize(Decimal("0.0001")).normalize()
            ),
            "close_price": 0,
            "last_price": _num(last),
            "value": _num(row["sell_v"] - row["buy_v"]),
            "pnl": _num(pnl),
            "m2m": _num(pnl),
            "unrealised": _num(pnl),
            "realised": 0,
            "buy_quantity": _num(row["buy_q"]),
            "buy_price": _num(buy_price.quantize(Decimal("0.0001")).normalize()),
            "buy_value": _num(row["buy_v"]),
            "sell_quantity": _num(row["sell_q"]),
            "sell_price": _num(sell_price.quantize(Decimal("0.0001")).normalize()),
            "sell_value": _num(row["sell_v"]),
        }

    def margins(self) -> dict[str, Any]:
        cash = _num(self.cash)
        segment = {
            "enabled": True,
            "net": cash,
            "available": {
                "adhoc_margin": 0,
                "cash": cash,
                "opening_balance": cash,
                "live_balance": cash,
                "collateral": 0,
                "intraday_payin": 0,
            },
            "utilised": {"debits": 0, "exposure": 0, "m2m_realised": 0, "span": 0},
        }
        return {"equity": segment, "commodity": {**segment, "enabled": False, "net": 0}}

    def postback(self, update: dict[str, Any]) -> dict[str, Any]:
        """The JSON Kite posts to the app's postback URL for an order update."""
        return {
            **update,
            "user_id": self.user_id,
            "app_id": 1,
            "unfilled_quantity": update["pending_quantity"],
            "checksum": sha256_hex(update["order_id"], update["order_timestamp"], self.api_secret),
        }
