"""`kite`: Zerodha Kite Connect v3 through the official SDK (`kiteconnect.KiteConnect`).

Per account: credentials {"api_key", "api_secret", "access_token"?, "access_token_expires_at"?}
and settings {"root", "ticker_url", "login_url", "product", "timeout_s"} from the account's
BrokerConnection (`execution.broker_config`). `root` must be scheme://host[:port]: the SDK
joins routes with urljoin, which drops any path.

- Orders carry `tag` = a 20-hex-digit digest of OMS's order id (`kite_mapping.order_tag`),
  linked in `BrokerOrder` before anything is sent. A submit whose earlier attempt got no
  answer (timeout, 5xx, 429) first looks for its tag in `GET /orders` and never sends a
  second order for one OMS order.
- Kite's order limits (10/s, 400/min, 5,000/day per account) are taken from our own
  buckets before sending (`kite_limits`); a refusal sends nothing.
- Answers: submit → ack; modify → replaced; cancel → the order's final state (fills first,
  then canceled). Fills and everything else arrive as order updates — ticker, postbacks and
  polling — turned into reports by `kite_updates` (deduplicated, order-independent).
- A TokenException (the daily session ended) marks the connection `session_expired` and
  is a PermanentBrokerError in words ("log in to Kite again").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlencode

from django.utils import timezone
from kiteconnect import KiteConnect

from execution.adapters import kite_mapping as km
from execution.adapters.kite_client import (
    KiteRefusedError,
    client_of,
    config_of,
    http_timeout,
    kite_errors,
    kite_root,
)
from execution.adapters.kite_limits import KiteOrderLimiter
from execution.adapters.kite_session import (
    KiteSessionExpiredError,
    complete_login,
)
from execution.adapters.kite_stream import kite_stream_run
from execution.adapters.kite_updates import reports_for_update
from execution.broker_config import (
    connection_status_record,
)
from execution.models import BrokerOrder
from execution.protocol import (
    BrokerFillView,
    BrokerFunds,
    BrokerOrderView,
    ConnectionCheck,
    ConnectionState,
    ExecutionReport,
    ModifyRequest,
    OrderRequest,
    PermanentBrokerError,
    ReportType,
    TransientBrokerError,
    VenueOrderView,
    VenuePosition,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_LOGIN_URL = KiteConnect._default_login_uri
OPEN_STATUSES = ("new", "partially_filled", "pending_new", "pending_cancel")


class KiteBroker:
    name = km.BROKER
    in_process = False

    def __init__(self) -> None:
        self.limiter = KiteOrderLimiter()

    def _call(self, account_id: str, what: str, fn: Callable[[KiteConnect], T]) -> T:
        client = client_of(config_of(account_id))
        with kite_errors(account_id=account_id, what=what):
            return fn(client)

    # ------------------------------------------------------------------ commands

    def submit(self, request: OrderRequest) -> list[ExecutionReport]:
        config = config_of(request.account_id)
        try:
            problem = km.request_problem(request)
            exchange, tradingsymbol = km.kite_symbol(symbol=request.symbol)
            product = km.product_of(config.settings)
        except ValueError as exc:
            problem = str(exc)
        if problem:
            return [_refused(request.order_id, problem)]
        tag = km.order_tag(request.order_id)
        link, created = BrokerOrder.objects.get_or_create(
            broker=km.BROKER,
            account_id=request.account_id,
            client_ref=tag,
            defaults={
                "order_id": request.order_id,
                "symbol": request.symbol,
                "status": "SENDING",
                "qty": request.qty,
                "limit_price": request.limit_price,
            },
        )
        client = client_of(config)
        if not created:
            known = link.broker_order_id or self._find_by_tag(client, request.account_id, tag)
            if known:  # sent before; its answer was lost (or this is a re-submission)
                return self._accepted(link, known)
        if link.status == "REJECTED":
            return [_refused(request.order_id, "Kite rejected this order before.")]
        params = km.place_params(
            request, exchange=exchange, tradingsymbol=tradingsymbol, product=product, tag=tag
        )
        self.limiter.take(account_id=request.account_id, new_order=True)
        try:
            with kite_errors(account_id=request.account_id, what="the order"):
                broker_order_id = str(client.place_order(**params))
        except KiteRefusedError as exc:
            BrokerOrder.objects.filter(pk=link.pk).update(status="REJECTED")
            return [_refused(request.order_id, str(exc), broker=True)]
        return self._accepted(link, broker_order_id)

    def _find_by_tag(self, client: KiteConnect, account_id: str, tag: str) -> str:
        with kite_errors(account_id=account_id, what="the order book"):
            orders = client.orders()
        for order in orders:
            if order.get("tag") == tag or tag in (order.get("tags") or []):
                return str(order["order_id"])
        return ""

    def _accepted(self, link: BrokerOrder, broker_order_id: str) -> list[ExecutionReport]:
        BrokerOrder.objects.filter(pk=link.pk, broker_order_id="").update(
            broker_order_id=broker_order_id
        )
        BrokerOrder.objects.filter(pk=link.pk, status="SENDING").update(status="OPEN")
        return [
            ExecutionReport(
                report_id=km.report_id(broker_order_id, "ack"),
                order_id=link.order_id,
                type=ReportType.ACK,
                ts=timezone.now(),
                leaves_qty=link.qty - link.filled_qty,
                broker_order_id=broker_order_id,
            )
        ]

    def modify(self, request: ModifyRequest) -> list[ExecutionReport]:
        link = _link_of(request.order_id)
        if link is None or not link.broker_order_id:
            return [
                _local(
                    request.order_id,
                    ReportType.MODIFY_REJECTED,
                    "Kite does not know this order.",
                    f"v{request.version}",
                )
            ]
        params: dict[str, Any] = {}
        if request.new_qty is not None:
            if request.new_qty != request.new_qty.to_integral_value():
                return [
                    _local(
                        request.order_id,
                        ReportType.MODIFY_REJECTED,
                        "Kite quantities are whole numbers.",
                        f"v{request.version}",
                    )
                ]
            params["quantity"] = int(request.new_qty)
        if request.new_limit_price is not None:
            params["price"] = format(request.new_limit_price, "f")  # exact, as a form string
        self.limiter.take(account_id=link.account_id, new_order=False)
        try:
            self._call(
                link.account_id,
                "the modification",
                lambda c: c.modify_order("regular", link.broker_order_id, **params),
            )
        except KiteRefusedError as exc:
            return [
                _local(
                    request.order_id,
                    ReportType.MODIFY_REJECTED,
                    str(exc),
                    f"v{request.version}",
                    broker_order_id=link.broker_order_id,
                )
            ]
        qty = request.new_qty if request.new_qty is not None else link.qty
        price = request.new_limit_price if request.new_limit_price is not None else link.limit_price
        BrokerOrder.objects.filter(pk=link.pk).update(qty=qty, limit_price=price)
        return [
            ExecutionReport(
                report_id=km.report_id(
                    link.broker_order_id,
                    "mod",
                    km.plain(qty),
                    km.plain(price) if price is not None else "mkt",
                ),
                order_id=request.order_id,
                type=ReportType.REPLACED,
                ts=timezone.now(),
                leaves_qty=qty - link.filled_qty,
                broker_order_id=link.broker_order_id,
                data={
                    "new_qty": str(km.plain(qty)),
                    "new_limit_price": None if price is None else str(km.plain(price)),
                },
            )
        ]

    def cancel(self, *, order_id: str, account_id: str, symbol: str) -> list[ExecutionReport]:
        link = _link_of(order_id)
        if link is None or not link.broker_order_id:
            return [_local(order_id, ReportType.CANCEL_REJECTED, "Kite does not know this order.")]
        self.limiter.take(account_id=link.account_id, new_order=False)
        try:
            self._call(
                link.account_id,
                "the cancel",
                lambda c: c.cancel_order("regular", link.broker_order_id),
            )
        except KiteRefusedError as exc:
            return [
                _local(
                    order_id,
                    ReportType.CANCEL_REJECTED,
                    str(exc),
                    broker_order_id=link.broker_order_id,
                )
            ]
        history = self._call(
            link.account_id, "the order", lambda c: c.order_history(link.broker_order_id)
        )
        return self.reports_for(account_id=link.account_id, order=history[-1]) if history else []

    # ------------------------------------------------------------------ updates

    def reports_for(self, *, account_id: str, order: dict[str, Any]) -> list[ExecutionReport]:
        """The reports one Kite order update implies (ticker, postback or polling)."""

        def trades(broker_order_id: str) -> list[dict[str, Any]]:
            return self._call(account_id, "the trades", lambda c: c.order_trades(broker_order_id))

        return reports_for_update(account_id=account_id, order=order, trades=trades)

    def poll_reports(self, *, account_id: str) -> list[ExecutionReport]:
        """Catch up from `GET /orders` (after a reconnect, and every minute)."""
        orders = self._call(account_id, "the order book", lambda c: c.orders())
        reports: list[ExecutionReport] = []
        for order in orders:
            reports.extend(self.reports_for(account_id=account_id, order=order))
        return reports

    def stream_run(self, *, account_id: str, stop) -> None:
        kite_stream_run(adapter=self, account_id=account_id, stop=stop)

    # ------------------------------------------------------------------ session

    def login_url(self, *, account_id: str) -> str:
        config = config_of(account_id)
        base = str(config.settings.get("login_url") or DEFAULT_LOGIN_URL)
        query = urlencode({"api_key": config.credentials["api_key"], "v": 3})
        return f"{base}?{query}"

    def complete_login(
        self, *, account_id: str, request_token: str, actor: Any = None
    ) -> ConnectionCheck:
        config = config_of(account_id)
        client = KiteConnect(
            api_key=config.credentials["api_key"],
            root=kite_root(config.settings),
            timeout=http_timeout(config.settings),
        )
        return complete_login(
            config=config, client=client, request_token=request_token, actor=actor
        )

    def check_connection(self, *, account_id: str) -> ConnectionCheck:
        started = time.monotonic()
        try:
            profile = self._call(account_id, "the profile", lambda c: c.profile())
        except KiteSessionExpiredError as exc:
            return _check(account_id, started, str(exc), ConnectionState.SESSION_EXPIRED)
        except TransientBrokerError as exc:
            return _check(
                account_id, started, f"Kite does not answer: {exc}", ConnectionState.DISCONNECTED
            )
        except PermanentBrokerError as exc:
            return _check(account_id, started, str(exc), ConnectionState.ERROR)
        detail = f"Connected to Kite as {profile.get('user_id')} ({profile.get('user_name')})."
        return _check(account_id, started, detail, ConnectionState.CONNECTED)

    # ------------------------------------------------------------------ reads

    def funds(self, *, account_id: str) -> BrokerFunds:
        margins = self._call(account_id, "the funds", lambda c: c.margins())
        equity = margins.get("equity") or {}
        available = equity.get("available") or {}
        cash = km.dec(available.get("live_balance", available.get("cash")))
        return BrokerFunds(cash=cash, buying_power=km.dec(equity.get("net")), currency="INR")

    def broker_orders(self, *, account_id: str, since: datetime | None) -> list[BrokerOrderView]:
        orders = self._call(account_id, "the order book", lambda c: c.orders())
        ours = _ours(account_id)
        views = [km.order_view(order, ours) for order in orders]
        return [view for view in views if since is None or view.created_at >= since]

    def broker_fills(self, *, account_id: str, since: datetime | None) -> list[BrokerFillView]:
        trades = self._call(account_id, "the trades", lambda c: c.trades())
        ours = _ours(account_id)
        fills = [km.fill_view(trade, ours) for trade in trades]
        return [fill for fill in fills if since is None or fill.ts >= since]

    def open_orders(self, *, account_id: str) -> list[VenueOrderView]:
        return [
            VenueOrderView(
                order_id=view.client_order_id,
                symbol=view.symbol,
                side=view.side,
                qty=view.qty,
                filled_qty=view.filled_qty,
                limit_price=view.limit_price,
                status=view.status,
            )
            for view in self.broker_orders(account_id=account_id, since=None)
            if view.status in OPEN_STATUSES
        ]

    def positions(self, *, account_id: str) -> list[VenuePosition]:
        data = self._call(account_id, "the positions", lambda c: c.positions())
        net: dict[str, Decimal] = {}
        for row in data.get("net") or []:
            symbol = km.oms_symbol(
                exchange=str(row.get("exchange")), tradingsymbol=str(row.get("tradingsymbol"))
            )
            net[symbol] = net.get(symbol, Decimal("0")) + km.dec(row.get("quantity"))
        return [
            VenuePosition(account_id=account_id, symbol=symbol, qty=qty)
            for symbol, qty in sorted(net.items())
            if qty
        ]


# ---------------------------------------------------------------------- helpers


def _link_of(order_id: str) -> BrokerOrder | None:
    return BrokerOrder.objects.filter(broker=km.BROKER, order_id=order_id).first()


def _ours(account_id: str) -> dict[str, str]:
    """Kite order id → OMS order id, for the account's orders OMS placed."""
    rows = BrokerOrder.objects.filter(broker=km.BROKER, account_id=account_id).exclude(order_id="")
    return dict(rows.exclude(broker_order_id="").values_list("broker_order_id", "order_id"))


def _refused(order_id: str, reason: str, *, broker: bool = False) -> ExecutionReport:
    return ExecutionReport(
        report_id=f"kite-{'br' if broker else 'local'}-{order_id}-rejected"[:64],
        order_id=order_id,
        type=ReportType.REJECTED,
        ts=timezone.now(),
        leaves_qty=Decimal("0"),
        reason=reason[:300],
    )


def _local(
    order_id: str, report_type: str, reason: str, *parts: str, broker_order_id: str = ""
) -> ExecutionReport:
    return ExecutionReport(
        report_id="-".join(["kite", order_id, report_type, *parts])[:64],
        order_id=order_id,
        type=report_type,
        ts=timezone.now(),
        reason=reason[:300],
        broker_order_id=broker_order_id,
    )


def _check(account_id: str, started: float, detail: str, state: str) -> ConnectionCheck:
    latency = int((time.monotonic() - started) * 1000)
    connection_status_record(account_id=account_id, state=state, detail=detail)
    return ConnectionCheck(
        ok=state == ConnectionState.CONNECTED, latency_ms=latency, detail=detail, state=state
    )
