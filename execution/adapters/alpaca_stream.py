"""Following one Alpaca account: the trade_updates stream plus a catch-up poll.

`AlpacaStreamFollower(broker, account_id).run(stop)` runs alpaca-py's TradingStream (it
reconnects by itself) until `stop` is set. Every update becomes execution reports handed to
`execution.registry.emit_reports`; on every (re)connect and every `catchup_s` (settings
`catchup_s`, default 60) the account's orders and FILL activities are polled and whatever
the stream missed is emitted too. Report ids are deterministic (`alpaca_mapping`), so an
update seen twice, out of order, or both on the stream and by the poll is applied once.

All handling runs on ONE worker thread (in order; Django's database access is synchronous),
the stream's event loop only receives.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from alpaca.trading.stream import TradingStream
from django.db import connections
from django.utils import timezone

from execution.adapters import alpaca_mapping as mapping
from execution.broker_config import connection_status_record, db_ready
from execution.models import VenueOrder
from execution.protocol import ConnectionState, ExecutionReport, ReportType
from execution.registry import emit_reports

if TYPE_CHECKING:
    from execution.adapters.alpaca import AlpacaBroker

logger = logging.getLogger(__name__)

BURST = 200
EMITTED_MAX = 100_000
_VENUE_STATUS = {
    ReportType.FILL: "filled",
    ReportType.CANCELED: "canceled",
    ReportType.EXPIRED: "canceled",
    ReportType.REJECTED: "rejected",
}


class _Stream(TradingStream):
    """TradingStream that tells its follower when it (re)connected or was refused."""

    def __init__(self, *args: Any, follower: AlpacaStreamFollower, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._follower = follower

    async def _auth(self) -> None:
        try:
            await super()._auth()
        except ValueError:
            await self._follower.on_refused()
            raise

    async def _start_ws(self) -> None:
        await super()._start_ws()
        await self._follower.on_connected()

    async def stop_now(self) -> None:
        await self.stop_ws()
        if self._ws is not None:
            await self._ws.close()  # wakes the pending recv at once


class AlpacaStreamFollower:
    def __init__(self, broker: AlpacaBroker, account_id: str) -> None:
        self.broker = broker
        self.account_id = account_id
        conn = broker.conn(account_id)
        settings = broker_settings(broker, account_id)
        self.catchup_s = float(settings.get("catchup_s") or 60)
        self.lookback = timedelta(seconds=float(settings.get("catchup_lookback_s") or 86400))
        self.reconnect_min_s = float(settings.get("reconnect_min_s") or 1.0)
        self._conn = conn
        self._fills_since = timezone.now() - self.lookback
        self._emitted: set[str] = set()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alpaca-follow")
        self._loop: asyncio.AbstractEventLoop | None = None
        self.connects = 0

    # ------------------------------------------------------------------ running

    def run(self, stop: threading.Event) -> None:
        stream = _Stream(
            self._conn.key_id,
            self._conn.secret_key,
            raw_data=True,
            url_override=self._conn.stream_url,
            follower=self,
        )
        stream._reconnect_min_backoff = self.reconnect_min_s
        stream.subscribe_trade_updates(self._on_update)
        done = threading.Event()
        watcher = threading.Thread(
            target=self._watch, args=(stop, done, stream), name="alpaca-watch", daemon=True
        )
        watcher.start()
        try:
            stream.run()
        finally:
            done.set()
            watcher.join(timeout=10)
            self._worker.submit(connections.close_all).result(timeout=10)
            self._worker.shutdown(wait=True)

    def _watch(self, stop: threading.Event, done: threading.Event, stream: _Stream) -> None:
        """Every `catchup_s` a catch-up; when `stop` is set, stop the stream."""
        next_catch_up = time.monotonic() + self.catchup_s
        while not stop.wait(0.1):
            if done.is_set():
                return
            if time.monotonic() >= next_catch_up:
                self._worker.submit(self.catch_up_safe)
                next_catch_up = time.monotonic() + self.catchup_s
        while stream._stop_stream_event is None or stream._loop is None:
            if done.is_set():
                return
            time.sleep(0.02)  # the stream drains its stop queue on start: wait for that
        asyncio.run_coroutine_threadsafe(stream.stop_now(), stream._loop).result(timeout=10)

    async def _in_worker(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._worker, fn, *args)

    async def on_connected(self) -> None:
        await self._in_worker(self._note, ConnectionState.CONNECTED, "Alpaca's stream is live.")
        await self._in_worker(self.catch_up_safe)
        self.connects += 1  # connected and caught up

    async def on_refused(self) -> None:
        detail = "Alpaca's stream refused the key (authentication failed)."
        await self._in_worker(self._note, ConnectionState.ERROR, detail)

    async def _on_update(self, message: dict) -> None:
        await self._in_worker(self.handle_update, message)

    def _note(self, state: str, detail: str) -> None:
        self.broker._states[self.account_id] = state
        connection_status_record(account_id=self.account_id, state=state, detail=detail)

    # ------------------------------------------------------------------ updates

    def handle_update(self, message: dict) -> None:
        db_ready()
        try:
            reports = self.reports_of_update(message.get("data") or {})
        except Exception:  # one bad update must not stop the stream; the poll recovers it
            logger.exception("Alpaca update could not be mapped for %s", self.account_id)
            return
        self._emit(reports)

    def reports_of_update(self, data: dict) -> list[ExecutionReport]:
        event, order = data.get("event"), data.get("order") or {}
        if not order.get("id"):
            return []
        our = self.broker.our_id(order.get("client_order_id") or "")
        if event == "new":
            return [] if our and order.get("replaces") else [mapping.ack_report(order, our_id=our)]
        if event in ("fill", "partial_fill"):
            cum = Decimal(str(order.get("filled_qty") or data.get("qty")))
            return [
                mapping.fill_report(
                    order,
                    our_id=our,
                    qty=Decimal(str(data["qty"])),
                    price=Decimal(str(data["price"])),
                    cum_qty=cum,
                    ts=data.get("timestamp"),
                    complete=event == "fill",
                    leaves=Decimal(str(order.get("qty") or cum)) - cum,
                    extra={"position_qty": data.get("position_qty")},
                )
            ]
        if event in mapping.TERMINAL_EVENTS:
            return [mapping.terminal_report(order, our_id=our, event=event)]
        if event == "replaced" and order.get("replaced_by"):
            new = self.broker.get_order(self.account_id, order["replaced_by"])
            return [self.broker._replaced(self.account_id, order, new, our)]
        return []  # pending_*, accepted, restated, …: nothing OMS acts on

    def _emit(self, reports: list[ExecutionReport]) -> None:
        """Hand reports over in bursts of at most BURST (one transaction each, in order)."""
        # An update for an order placed outside OMS says which account it is from (the
        # orders side imports it there).
        reports = [
            dataclasses.replace(r, data={**r.data, "account_id": self.account_id})
            if r.data.get("external")
            else r
            for r in reports
        ]
        if len(self._emitted) > EMITTED_MAX:
            self._emitted.clear()  # memory bound: the sink drops the repeats this may cause
        for start in range(0, len(reports), BURST):
            burst = reports[start : start + BURST]
            emit_reports(burst)
            self._emitted.update(r.report_id for r in burst)
        for report in reports:
            status = _VENUE_STATUS.get(report.type)
            if report.order_id and status:
                VenueOrder.objects.filter(pk=report.order_id).update(status=status)

    # ------------------------------------------------------------------ catch-up

    def catch_up_safe(self) -> None:
        db_ready()
        try:
            self.catch_up()
        except Exception:  # logged; the next catch-up (a minute later) tries again
            logger.exception("Alpaca catch-up failed for account %s", self.account_id)

    def catch_up(self) -> int:
        """Emit what the account's orders and fills say that was not emitted yet; returns
        how many reports went out."""
        started = timezone.now()
        broker, account = self.broker, self.account_id
        orders = broker.list_orders(account, status="all", since=started - self.lookback)
        fills = broker.list_fills(account, since=self._fills_since)
        by_id = {order["id"]: order for order in orders}
        for fill in fills:  # an order older than the window, or placed while we listed
            if fill["order_id"] not in by_id:
                fetched = broker.get_order(account, fill["order_id"])
                by_id[fetched["id"]] = fetched
                orders.append(fetched)
        ours = {oid: broker.our_id(o.get("client_order_id") or "") for oid, o in by_id.items()}
        first: list[ExecutionReport] = []
        last: list[ExecutionReport] = []
        for order in orders:
            our = ours[order["id"]]
            status = order.get("status") or ""
            if status != "rejected" and not (our and order.get("replaces")):
                first.append(mapping.ack_report(order, our_id=our))
            if order.get("replaced_by"):
                new = by_id.get(order["replaced_by"]) or broker.get_order(
                    account, order["replaced_by"]
                )
                first.append(broker._replaced(account, order, new, our))
            if status in mapping.TERMINAL_EVENTS:
                last.append(mapping.terminal_report(order, our_id=our, event=status))
        middle = [self._fill_report(fill, by_id[fill["order_id"]], ours) for fill in fills]
        fresh = [r for r in first + middle + last if r.report_id not in self._emitted]
        self._emit(fresh)
        self._fills_since = started - timedelta(minutes=5)
        return len(fresh)

    @staticmethod
    def _fill_report(fill: dict, order: dict, ours: dict[str, str]) -> ExecutionReport:
        return mapping.fill_report(
            order,
            our_id=ours[order["id"]],
            qty=Decimal(str(fill["qty"])),
            price=Decimal(str(fill["price"])),
            cum_qty=Decimal(str(fill["cum_qty"])),
            ts=fill.get("transaction_time"),
            complete=fill.get("type") == "fill",
            leaves=mapping.decimal_or_none(fill.get("leaves_qty")),
            extra={"activity": fill},
        )


def broker_settings(broker: AlpacaBroker, account_id: str) -> dict[str, Any]:
    from execution.broker_config import broker_account_config

    return broker_account_config(account_id=account_id).settings
