"""`alpaca`: Alpaca's trading API through alpaca-py's TradingClient / TradingStream.

Per account: the key id / secret and the settings (`base_url`, `stream_url`; default Alpaca
paper) come from the account's BrokerConnection (`execution.broker_config`); one client per
account, rebuilt when the credentials or settings change.

Never two orders for one. The SDK's own retries (HTTP 429/504, also on POST /v2/orders) are
switched off and every request has a timeout; after a timeout, a 5xx or a 429 the call fails
with a TransientBrokerError, and the next attempt (the resilience wrapper's retry, or the
sweeper's re-submission) first looks the order up by its client_order_id (our order id) —
only an order Alpaca does not know is sent again. A replace uses the client id
`<our id>.r<version>` the same way. Every order OMS sends is recorded as a VenueOrder row
(venue "alpaca") before it is sent: that is how an update is told apart from one for an
order placed outside OMS (reported with order_id "" and data {"external": true, …}).

What comes back synchronously: submit → ACK (or REJECTED), modify → REPLACED (or
MODIFY_REJECTED), cancel → CANCELED once Alpaca shows it canceled (else the stream's).
Fills come only from per-execution sources — the trade_updates stream and the FILL
activities the catch-up polls — never from an order snapshot, so none is counted twice
(`alpaca_mapping` explains the deterministic report ids). Stops are held by OMS; gtd is
refused (Alpaca has no good-till-date order).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from django.db import IntegrityError, transaction

from execution.adapters import alpaca_mapping as mapping
from execution.adapters.alpaca_mapping import AlpacaAuthError, AlpacaRefusedError
from execution.adapters.alpaca_reads import AlpacaReads
from execution.broker_config import broker_account_config, connection_status_record, db_ready
from execution.models import VenueOrder, VenueOrderStatus
from execution.protocol import (
    BrokerTimeoutError,
    BrokerUnavailableError,
    ConnectionState,
    ExecutionReport,
    ModifyRequest,
    OrderRequest,
    PermanentBrokerError,
    ReportType,
    TransientBrokerError,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

NAME = "alpaca"
PAPER_URL = "https://paper-api.alpaca.markets"
PAPER_STREAM_URL = "wss://paper-api.alpaca.markets/stream"
DEFAULT_TIMEOUT_S = 4.0  # below the resilience wrapper's 5 s execution timeout
PAGE = 500


@dataclass(frozen=True)
class _Conn:
    fingerprint: str
    client: TradingClient
    base_url: str
    stream_url: str
    key_id: str
    secret_key: str
    timeout_s: float


def _api_error(exc: APIError) -> Exception:
    status = exc.status_code or 0
    try:
        message = exc.message
    except (ValueError, KeyError, TypeError):
        message = str(exc)[:200]
    if status == 429 or status >= 500:
        return TransientBrokerError(f"Alpaca answered HTTP {status}: {message}")
    if status == 401 or (status == 403 and message.lower() in ("forbidden", "unauthorized")):
        return AlpacaAuthError(f"Alpaca refused the key: {message} (HTTP {status})")
    return AlpacaRefusedError(status, message)


class AlpacaBroker(AlpacaReads):
    name = NAME
    in_process = False

    def __init__(self) -> None:
        self._conns: dict[str, _Conn] = {}
        self._lock = threading.Lock()
        self._states: dict[str, str] = {}  # account → connection state last recorded here
        self._ours: set[str] = set()
        self._symbols: dict[tuple[str, str], tuple[float, str]] = {}

    # ------------------------------------------------------------------ connection

    def conn(self, account_id: str) -> _Conn:
        config = broker_account_config(account_id=account_id)
        creds, settings = config.credentials, config.settings
        key_id, secret = creds.get("key_id") or "", creds.get("secret_key") or ""
        if not key_id or not secret:
            raise AlpacaAuthError("No Alpaca key id and secret key are stored for this account.")
        raw = json.dumps([key_id, secret, settings], sort_keys=True, default=str)
        fingerprint = hashlib.sha256(raw.encode()).hexdigest()
        with self._lock:
            cached = self._conns.get(account_id)
            if cached is not None and cached.fingerprint == fingerprint:
                return cached
            base_url = (settings.get("base_url") or PAPER_URL).rstrip("/")
            timeout_s = float(settings.get("timeout_s") or DEFAULT_TIMEOUT_S)
            client = TradingClient(key_id, secret, paper=True, raw_data=True, url_override=base_url)
            client._retry = 0  # no SDK retries: a POST is never repeated behind our back
            client._retry_codes = []
            session = client._session
            plain_request = session.request

            def request_with_timeout(method: str, url: str, **kwargs: Any) -> Any:
                kwargs.setdefault("timeout", (min(timeout_s, 3.0), timeout_s))
                return plain_request(method, url, **kwargs)

            session.request = request_with_timeout
            conn = _Conn(
                fingerprint=fingerprint,
                client=client,
                base_url=base_url,
                stream_url=settings.get("stream_url") or PAPER_STREAM_URL,
                key_id=key_id,
                secret_key=secret,
                timeout_s=timeout_s,
            )
            self._conns[account_id] = conn
            return conn

    def call(self, account_id: str, fn: Callable[[TradingClient], T]) -> T:
        """Run one request; errors become Transient / AlpacaAuth / AlpacaRefused errors, and
        the account's connection state is recorded when it changes."""
        conn = self.conn(account_id)
        try:
            result = fn(conn.client)
        except requests.Timeout as exc:
            error: Exception = BrokerTimeoutError(
                f"Alpaca at {conn.base_url} did not answer within {conn.timeout_s:g}s"
            )
            self._note(account_id, ConnectionState.DISCONNECTED, str(error))
            raise error from exc
        except requests.ConnectionError as exc:
            error = TransientBrokerError(f"Could not reach Alpaca at {conn.base_url}")
            self._note(account_id, ConnectionState.DISCONNECTED, str(error))
            raise error from exc
        except APIError as exc:
            error = _api_error(exc)
            if isinstance(error, TransientBrokerError):
                self._note(account_id, ConnectionState.DISCONNECTED, str(error))
            elif isinstance(error, AlpacaAuthError):
                self._note(account_id, ConnectionState.ERROR, str(error))
            else:
                self._note(account_id, ConnectionState.CONNECTED, "Alpaca answers.")
            raise error from exc
        self._note(account_id, ConnectionState.CONNECTED, "Alpaca answers.")
        return result

    def _note(self, account_id: str, state: str, detail: str) -> None:
        if self._states.get(account_id) == state:
            return
        self._states[account_id] = state
        connection_status_record(account_id=account_id, state=state, detail=detail)

    def guarded(self, account_id: str, what: str, fn: Callable[[], T]) -> T:
        """A read behind the broker's circuit breaker: one attempt; breaker open or no answer
        → BrokerUnavailableError (the API's 503 broker_unavailable).

        It does not take the half-open probe: a caller may already hold it around this call
        (`execution.services` wraps `positions` / `open_orders`), and a read is safe to let
        through while the breaker tries a probe."""
        from execution.resilience import BreakerState
        from execution.services import broker_caller

        breaker = broker_caller(broker=NAME).breaker
        state = breaker.snapshot()
        if state["state"] == BreakerState.OPEN:
            raise BrokerUnavailableError(
                f"Broker {NAME!r} is unavailable: circuit breaker open after repeated failures."
            )
        dirty = bool(state["consecutive_failures"]) or state["opened_at"] is not None
        try:
            result = fn()
        except TransientBrokerError as exc:
            breaker.record_failure()
            raise BrokerUnavailableError(f"Alpaca is unavailable: {what} failed ({exc}).") from exc
        except PermanentBrokerError:
            breaker.record_success(dirty=dirty)
            raise
        breaker.record_success(dirty=dirty)
        return result

    # ------------------------------------------------------------------ symbols, ours

    def broker_symbol(self, symbol: str) -> str:
        return self._symbol(("to", symbol))

    def oms_symbol(self, broker_symbol: str) -> str:
        return self._symbol(("from", broker_symbol))

    def _symbol(self, key: tuple[str, str]) -> str:
        cached = self._symbols.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        from marketdata.models import Instrument

        direction, value = key
        if direction == "to":
            names = Instrument.objects.filter(symbol=value).values_list("broker_symbols", flat=True)
            found = ((names.first() or {}).get(NAME)) or value
        else:
            rows = Instrument.objects.filter(**{f"broker_symbols__{NAME}": value})
            found = rows.values_list("symbol", flat=True).first() or value
        self._symbols[key] = (time.monotonic() + 60, found)
        return found

    def our_id(self, client_order_id: str) -> str:
        """Our order id when OMS placed this order (a VenueOrder row says so), else ""."""
        base = mapping.base_order_id(client_order_id)
        if not base:
            return ""
        if base in self._ours:
            return base
        if VenueOrder.objects.filter(pk=base, venue=NAME).exists():
            self._ours.add(base)
            return base
        return ""

    def _mark_ours(self, request: OrderRequest) -> bool:
        """Record the order before it is sent; False when it was recorded before (it may
        have reached Alpaca already: look it up before sending)."""
        try:
            with transaction.atomic():
                VenueOrder.objects.create(
                    order_id=request.order_id,
                    venue=NAME,
                    account_id=request.account_id,
                    symbol=request.symbol,
                    side=request.side,
                    type=request.type,
                    qty=request.qty,
                    limit_price=request.limit_price,
                    tif=request.time_in_force,
                    status=VenueOrderStatus.PENDING,
                )
        except IntegrityError:
            return False
        self._ours.add(request.order_id)
        return True

    # ------------------------------------------------------------------ lookups

    def find_by_client_id(self, account_id: str, client_order_id: str) -> dict | None:
        try:
            return self.call(
                account_id,
                lambda c: c.get("/orders:by_client_order_id", {"client_order_id": client_order_id}),
            )
        except AlpacaRefusedError as exc:
            if exc.status == 404:
                return None
            raise

    def get_order(self, account_id: str, broker_order_id: str) -> dict:
        return self.call(account_id, lambda c: c.get(f"/orders/{broker_order_id}"))

    def chain(self, account_id: str, order_id: str) -> list[dict]:
        """Our order's broker orders, first to current (following `replaced_by`)."""
        first = self.find_by_client_id(account_id, order_id)
        orders = [first] if first else []
        while orders and orders[-1].get("replaced_by") and len(orders) < 100:
            orders.append(self.get_order(account_id, orders[-1]["replaced_by"]))
        return orders

    def filled_before(self, account_id: str, order: dict) -> Decimal:
        """What the orders `order` replaced (directly or not) filled."""
        total, link = Decimal("0"), order.get("replaces")
        while link:
            previous = self.get_order(account_id, link)
            total += mapping.decimal_or_none(previous.get("filled_qty")) or Decimal("0")
            link = previous.get("replaces")
        return total

    # ------------------------------------------------------------------ commands

    def submit(self, request: OrderRequest) -> list[ExecutionReport]:
        db_ready()
        body = mapping.order_body(request, broker_symbol=self.broker_symbol(request.symbol))
        account = request.account_id
        existing = None
        if not self._mark_ours(request):
            existing = self.find_by_client_id(account, request.order_id)
        if existing is None:
            try:
                existing = self.call(account, lambda c: c.post("/orders", body))
            except AlpacaRefusedError as exc:
                if "client_order_id must be unique" not in exc.message:
                    VenueOrder.objects.filter(pk=request.order_id).update(
                        status=VenueOrderStatus.REJECTED, reason=exc.message[:200]
                    )
                    return [mapping.rejected_report(our_id=request.order_id, reason=exc.message)]
                existing = self.find_by_client_id(account, request.order_id)
                if existing is None:
                    raise TransientBrokerError(
                        "Alpaca says the order exists but does not find it yet"
                    ) from exc
        if existing.get("status") == "rejected":
            return [mapping.terminal_report(existing, our_id=request.order_id, event="rejected")]
        return [mapping.ack_report(existing, our_id=request.order_id)]

    def modify(self, request: ModifyRequest) -> list[ExecutionReport]:
        db_ready()
        account, our_id = request.account_id, request.order_id
        new_cid = mapping.replacement_client_id(our_id, request.version)
        done = self.find_by_client_id(account, new_cid)  # a replace whose answer was lost
        if done is not None:
            old = self.get_order(account, done["replaces"])
            return [self._replaced(account, old, done, our_id)]
        chain = self.chain(account, our_id)
        if not chain:
            return [_refusal(our_id, ReportType.MODIFY_REJECTED, "Alpaca has no such order.")]
        current = chain[-1]
        if current.get("status") not in mapping.OPEN_STATUSES:
            reason = f"The order is {current.get('status')} at Alpaca; it cannot be modified."
            return [_refusal(our_id, ReportType.MODIFY_REJECTED, reason, current["id"])]
        filled = sum(
            (mapping.decimal_or_none(o.get("filled_qty")) or Decimal("0") for o in chain),
            Decimal("0"),
        )
        # Always the quantity still to fill, explicitly: the replacement is a new order that
        # starts unfilled (an omitted qty would leave its meaning to the broker).
        total = request.new_qty
        if total is None:
            total = filled - (mapping.decimal_or_none(current.get("filled_qty")) or 0)
            total += Decimal(str(current["qty"]))
        body: dict[str, Any] = {"client_order_id": new_cid, "qty": mapping.text(total - filled)}
        if request.new_limit_price is not None:
            body["limit_price"] = mapping.text(request.new_limit_price)
        try:
            new = self.call(account, lambda c: c.patch(f"/orders/{current['id']}", body))
        except AlpacaRefusedError as exc:
            if "client_order_id must be unique" in exc.message:
                new = self.find_by_client_id(account, new_cid)
                if new is not None:
                    return [self._replaced(account, current, new, our_id)]
            reason = f"Alpaca refused the change: {exc.message}"
            return [_refusal(our_id, ReportType.MODIFY_REJECTED, reason, current["id"])]
        return [self._replaced(account, current, new, our_id)]

    def _replaced(self, account: str, old: dict, new: dict, our_id: str) -> ExecutionReport:
        return mapping.replaced_report(
            old, new, our_id=our_id, filled_before=self.filled_before(account, new)
        )

    def cancel(self, *, order_id: str, account_id: str, symbol: str) -> list[ExecutionReport]:
        db_ready()
        chain = self.chain(account_id, order_id)
        if not chain:
            return [_refusal(order_id, ReportType.CANCEL_REJECTED, "Alpaca has no such order.")]
        current = chain[-1]
        if current.get("status") == "canceled":
            return [mapping.terminal_report(current, our_id=order_id, event="canceled")]
        if current.get("status") not in mapping.OPEN_STATUSES:
            reason = f"The order is {current.get('status')} at Alpaca; nothing to cancel."
            return [_refusal(order_id, ReportType.CANCEL_REJECTED, reason, current["id"])]
        try:
            self.call(account_id, lambda c: c.delete(f"/orders/{current['id']}"))
        except AlpacaRefusedError as exc:
            reason = f"Alpaca refused the cancel: {exc.message}"
            return [_refusal(order_id, ReportType.CANCEL_REJECTED, reason, current["id"])]
        after = self.get_order(account_id, current["id"])
        if after.get("status") == "canceled":
            return [mapping.terminal_report(after, our_id=order_id, event="canceled")]
        return []  # pending_cancel: the stream (or the catch-up) brings the outcome

    def stream_run(self, *, account_id: str, stop: threading.Event) -> None:
        from execution.adapters.alpaca_stream import AlpacaStreamFollower

        AlpacaStreamFollower(self, account_id).run(stop)


def _refusal(
    order_id: str, report_type: str, reason: str, broker_order_id: str = ""
) -> ExecutionReport:
    from django.utils import timezone

    from execution.records import new_report_id

    return ExecutionReport(
        report_id=new_report_id(mapping.PREFIX),
        order_id=order_id,
        type=report_type,
        ts=timezone.now(),
        reason=reason,
        broker_order_id=broker_order_id,
    )
