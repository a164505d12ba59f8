"""The broker adapter contract: plain dataclasses in, execution reports out.

orders/ builds `OrderRequest`s from its Order rows and applies every `ExecutionReport` through
one idempotent service. Adapters answer synchronously (the reports `submit` returns) and/or
asynchronously (reports handed to `execution.registry.emit_reports`, e.g. a paper fill on a
tick or a trade on the internal exchange). Execution never imports orders/.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable


class ReportType:
    ACK = "ack"
    FILL = "fill"  # a fill that completes the order
    PARTIAL_FILL = "partial_fill"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    REPLACED = "replaced"  # a modification accepted by the venue
    MODIFY_REJECTED = "modify_rejected"
    CANCEL_REJECTED = "cancel_rejected"

    ALL = (
        ACK,
        FILL,
        PARTIAL_FILL,
        CANCELED,
        REJECTED,
        EXPIRED,
        REPLACED,
        MODIFY_REJECTED,
        CANCEL_REJECTED,
    )


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What a venue needs to work one order. Stops are held by OMS and arrive as market/limit."""

    order_id: str
    account_id: str
    broker: str
    symbol: str
    side: str  # "buy" | "sell"
    type: str  # "market" | "limit"
    qty: Decimal  # total quantity of the order
    limit_price: Decimal | None
    time_in_force: str  # "day" | "gtc" | "gtd" | "ioc" | "fok"
    display_qty: Decimal | None = None
    expire_at: datetime | None = None
    filled_qty: Decimal = Decimal("0")  # already filled (re-submission after a restart)
    version: int = 1


@dataclass(frozen=True, slots=True)
class ModifyRequest:
    order_id: str
    account_id: str
    symbol: str
    new_qty: Decimal | None = None  # new TOTAL quantity (filled part included)
    new_limit_price: Decimal | None = None
    version: int = 1
    broker: str = ""  # the broker kind; when empty, broker_modify looks it up from VenueOrder


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """One event from a venue. `report_id` is unique: applying it twice changes nothing."""

    report_id: str
    order_id: str
    type: str  # one of ReportType
    ts: datetime
    fill_qty: Decimal | None = None
    fill_price: Decimal | None = None
    fee: Decimal = Decimal("0")
    liquidity: str | None = None  # "maker" | "taker" | None
    leaves_qty: Decimal | None = None
    reason: str = ""
    broker_order_id: str = ""
    trade_id: str = ""
    data: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VenueOrderView:
    """An open order as the venue sees it (for reconciliation)."""

    order_id: str
    symbol: str
    side: str
    qty: Decimal
    filled_qty: Decimal
    limit_price: Decimal | None
    status: str


@dataclass(frozen=True, slots=True)
class VenuePosition:
    account_id: str
    symbol: str
    qty: Decimal  # signed


class TransientBrokerError(Exception):
    """A named, retryable failure (timeout, connection reset, 5xx). Retried with backoff."""


class PermanentBrokerError(Exception):
    """The venue refused for good (bad credentials, unknown symbol): never retried."""


class BrokerUnavailableError(Exception):
    """The circuit breaker is open or retries ran out: report `broker_unavailable`."""


@runtime_checkable
class BrokerAdapter(Protocol):
    name: str

    def submit(self, request: OrderRequest) -> list[ExecutionReport]: ...

    def modify(self, request: ModifyRequest) -> list[ExecutionReport]: ...

    def cancel(self, *, order_id: str, account_id: str, symbol: str) -> list[ExecutionReport]: ...

    def open_orders(self, *, account_id: str) -> list[VenueOrderView]: ...

    def positions(self, *, account_id: str) -> list[VenuePosition]: ...


class BrokerTimeoutError(TransientBrokerError):
    """A call to the venue did not answer within the broker's execution timeout."""


class BrokerRateLimitedError(BrokerUnavailableError):
    """Our own per-broker rate limit had no token within the allowed wait: not sent at all.
    A subclass of BrokerUnavailableError so callers treat it the same (try again later)."""


# --- Real brokers (alpaca, kite): connection lifecycle, funds and reconciliation reads ----


class ConnectionState:
    """What `GET /api/v1/accounts/{id}/broker` reports (API.md)."""

    CONNECTED = "connected"
    DISCONNECTED = "disconnected"  # not answering (timeouts, 5xx, circuit breaker open)
    SESSION_EXPIRED = "session_expired"  # Kite's daily access token ran out: log in again
    ERROR = "error"  # the broker answered but refused us (wrong credentials, …)

    ALL = (CONNECTED, DISCONNECTED, SESSION_EXPIRED, ERROR)


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    """The answer of `POST /api/v1/accounts/{id}/broker/test`, plus the state it implies."""

    ok: bool
    latency_ms: int
    detail: str  # in words, for the page ("Alpaca refused the key: forbidden")
    state: str  # one of ConnectionState


@dataclass(frozen=True, slots=True)
class BrokerFunds:
    cash: Decimal
    buying_power: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class BrokerOrderView:
    """An order as the broker holds it — ours or placed outside OMS (reconciliation import).

    `client_order_id` is our order id when OMS placed it (Alpaca `client_order_id`, Kite
    `tag`), "" when the order came from elsewhere. `status` is mapped to OMS's order statuses.
    """

    broker_order_id: str
    client_order_id: str
    symbol: str  # OMS instrument symbol (mapped back from the broker's)
    side: str
    type: str  # market | limit | stop | stop_limit
    qty: Decimal
    filled_qty: Decimal
    limit_price: Decimal | None
    stop_price: Decimal | None
    avg_fill_price: Decimal | None
    status: str
    time_in_force: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class BrokerFillView:
    """One execution as the broker reports it; `trade_id` is the broker's unique id of it."""

    trade_id: str
    broker_order_id: str
    client_order_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    fee: Decimal
    ts: datetime


@runtime_checkable
class ConnectedBrokerAdapter(BrokerAdapter, Protocol):
    """A real broker reached over the network, per account (credentials and settings live on
    the account's BrokerConnection; read them through `execution.broker_config`)."""

    def check_connection(self, *, account_id: str) -> ConnectionCheck: ...

    def funds(self, *, account_id: str) -> BrokerFunds: ...

    def broker_orders(
        self, *, account_id: str, since: datetime | None
    ) -> list[BrokerOrderView]: ...

    def broker_fills(self, *, account_id: str, since: datetime | None) -> list[BrokerFillView]: ...

    def stream_run(self, *, account_id: str, stop: threading.Event) -> None:
        """Follow the broker's order-update stream until `stop` is set, handing reports to
        `execution.registry.emit_reports`; reconnects itself and catches up by polling after
        each reconnect. Returns when stopped; raises only on a permanent error."""
        ...


@runtime_checkable
class SessionLoginAdapter(Protocol):
    """Brokers with an interactive daily login (Kite)."""

    def login_url(self, *, account_id: str) -> str: ...

    def complete_login(self, *, account_id: str, request_token: str) -> ConnectionCheck: ...
