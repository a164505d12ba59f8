"""Adapters by broker kind, and the sink that receives asynchronous execution reports.

orders/ registers its report service as the sink from its AppConfig.ready(): execution
must not import orders (DESIGN.md), but every venue's reports must reach it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from execution.protocol import BrokerAdapter, ExecutionReport

logger = logging.getLogger(__name__)

# A sink takes a burst of reports a venue produced together (one answer, one exchange
# command, one tick's fills) so it can apply them in one transaction.
ReportSink = Callable[[list[ExecutionReport]], object]

_adapter_factories: dict[str, Callable[[], BrokerAdapter]] = {}
_adapters: dict[str, BrokerAdapter] = {}
_report_sinks: list[ReportSink] = []


def register_adapter(broker: str, factory: Callable[[], BrokerAdapter]) -> None:
    _adapter_factories[broker] = factory
    _adapters.pop(broker, None)


def broker_kinds() -> list[str]:
    return sorted(_adapter_factories)


def get_adapter(broker: str) -> BrokerAdapter:
    adapter = _adapters.get(broker)
    if adapter is None:
        try:
            factory = _adapter_factories[broker]
        except KeyError as exc:
            raise LookupError(f"no broker adapter registered for {broker!r}") from exc
        adapter = _adapters[broker] = factory()
    return adapter


def register_report_sink(sink: ReportSink) -> None:
    if sink not in _report_sinks:
        _report_sinks.append(sink)


def emit_reports(reports: Iterable[ExecutionReport]) -> None:
    burst = list(reports)
    if not burst:
        return
    for sink in _report_sinks:
        sink(burst)


# Told when a broker becomes unreachable or reachable again: listener(*, broker: str,
# status: str, detail: str[, account_id: str]). Without account_id it is about the broker
# kind as a whole (its circuit breaker opened: "disconnected", or closed: "connected"); with
# it, about one account's connection (execution.connections: the test button, the stream
# runner, the adapters; status is a ConnectionState). account_id is passed only when given,
# so a listener written for the kind-wide event keeps working. notifications registers one
# (execution must not import it).
BrokerStatusListener = Callable[..., object]
_broker_status_listeners: dict[str, BrokerStatusListener] = {}


def register_broker_status_listener(name: str, listener: BrokerStatusListener) -> None:
    _broker_status_listeners[name] = listener


def broker_status_changed(
    *, broker: str, status: str, detail: str, account_id: str | None = None
) -> None:
    extra = {} if account_id is None else {"account_id": str(account_id)}
    for listener in tuple(_broker_status_listeners.values()):
        try:
            listener(broker=broker, status=status, detail=detail, **extra)
        except Exception:  # telling people must never break a broker call; reported
            logger.exception("Broker status listener failed for %s → %s", broker, status)


# Told when OMS may have missed what happened at a real broker: a stream (re)connected, the
# stream runner started. listener(*, account_id: str). pnl registers its reconciliation (run
# the account's reconciliation now, not at the next minute). Adapters call
# `stream_reconnected(account_id=...)` after each reconnect of their stream_run.
ResyncListener = Callable[..., object]
_resync_listeners: dict[str, ResyncListener] = {}


def register_resync_listener(name: str, listener: ResyncListener) -> None:
    _resync_listeners[name] = listener


def stream_reconnected(*, account_id: str) -> None:
    for name, listener in tuple(_resync_listeners.items()):
        try:
            listener(account_id=str(account_id))
        except Exception:  # a failed catch-up is retried by the minute job; reported
            logger.exception("Resync listener %s failed for account %s", name, account_id)


# Orders and fills that happened at a real broker outside OMS (placed in the broker's own
# app, or while OMS was down), found by reconciliation or a stream: handed to the external
# sink, which imports them (marked external, booked through the same FIFO path). orders/
# registers it; until one is registered they stay unexplained and reconciliation raises a
# difference. sink(*, account_id: str, orders: list[BrokerOrderView],
# fills: list[BrokerFillView]) -> None.
ExternalSink = Callable[..., object]
_external_sinks: dict[str, ExternalSink] = {}


def register_external_sink(name: str, sink: ExternalSink) -> None:
    _external_sinks[name] = sink


def has_external_sink() -> bool:
    return bool(_external_sinks)


def emit_external(*, account_id: str, orders: list, fills: list) -> bool:
    """Hand what the broker did outside OMS to the sinks; False when nobody takes it."""
    if not (orders or fills) or not _external_sinks:
        return False
    for sink in tuple(_external_sinks.values()):
        sink(account_id=str(account_id), orders=list(orders), fills=list(fills))
    return True
