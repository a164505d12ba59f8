"""Adapters by broker kind, and the sink that receives asynchronous execution reports.

orders/ registers its report service as the sink from its AppConfig.ready(): execution
must not import orders (DESIGN.md), but every venue's reports must reach it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from execution.protocol import BrokerAdapter, ExecutionReport
from oms_site.registry import LogAndContinue, Registry

logger = logging.getLogger(__name__)

# A sink takes a burst of reports a venue produced together (one answer, one exchange
# command, one tick's fills) so it can apply them in one transaction. A sink that raises
# propagates (the venue's transaction rolls back); the later sinks do not run.
ReportSink = Callable[[list[ExecutionReport]], object]

ADAPTER_FACTORIES: Registry[Callable[[], BrokerAdapter]] = Registry("broker adapter")
REPORT_SINKS: Registry[ReportSink] = Registry("report sink")  # keyed by the sink itself
_adapters: dict[str, BrokerAdapter] = {}  # one instance per kind, made on first use


def register_adapter(broker: str, factory: Callable[[], BrokerAdapter]) -> None:
    ADAPTER_FACTORIES.register(broker, factory)
    _adapters.pop(broker, None)


def unregister_adapter(broker: str) -> None:
    ADAPTER_FACTORIES.unregister(broker)
    _adapters.pop(broker, None)


def adapter_instances_clear() -> None:
    """Forget the adapter instances made so far (each kind makes a new one on next use)."""
    _adapters.clear()


def broker_kinds() -> list[str]:
    return sorted(str(kind) for kind in ADAPTER_FACTORIES)


def get_adapter(broker: str) -> BrokerAdapter:
    adapter = _adapters.get(broker)
    if adapter is None:
        adapter = _adapters[broker] = ADAPTER_FACTORIES.get(broker)()
    return adapter


def register_report_sink(sink: ReportSink) -> None:
    REPORT_SINKS.register(sink, sink)


def emit_reports(reports: Iterable[ExecutionReport]) -> None:
    burst = list(reports)
    if not burst:
        return
    REPORT_SINKS.call_all(burst)


# Told when a broker becomes unreachable or reachable again: listener(*, broker: str,
# status: str, detail: str[, account_id: str]). Without account_id it is about the broker
# kind as a whole (its circuit breaker opened: "disconnected", or closed: "connected"); with
# it, about one account's connection (execution.connections: the test button, the stream
# runner, the adapters; status is a ConnectionState). account_id is passed only when given,
# so a listener written for the kind-wide event keeps working. notifications registers one
# (execution must not import it).
BrokerStatusListener = Callable[..., object]
BROKER_STATUS_LISTENERS: Registry[BrokerStatusListener] = Registry("broker status listener")


def register_broker_status_listener(name: str, listener: BrokerStatusListener) -> None:
    BROKER_STATUS_LISTENERS.register(name, listener)


_LOG_AND_CONTINUE = LogAndContinue(
    logger,
    "Broker status listener %s failed for %s → %s",
    describe=lambda *, broker, status, detail, **_: (broker, status),
)


def broker_status_changed(
    *, broker: str, status: str, detail: str, account_id: str | None = None
) -> None:
    extra = {} if account_id is None else {"account_id": str(account_id)}
    BROKER_STATUS_LISTENERS.call_all(
        broker=broker, status=status, detail=detail, on_error=_LOG_AND_CONTINUE, **extra
    )


# Told when the circuit breaker of ONE account at a real broker opens ("disconnected") or
# closes again ("connected"): listener(*, broker, account_id, status, detail). Real brokers'
# breakers are per account (execution.resilience). execution.connections registers the
# writer of the account's connection state (connection_state_set), which tells the account's
# members once per change; the breaker itself tells nobody.
ACCOUNT_BREAKER_LISTENERS: Registry[BrokerStatusListener] = Registry("account breaker listener")
_ACCOUNT_BREAKER_LOG_AND_CONTINUE = LogAndContinue(
    logger,
    "Account breaker listener %s failed for %s → %s",
    describe=lambda *, account_id, status, **_: (account_id, status),
)


def register_account_breaker_listener(name: str, listener: BrokerStatusListener) -> None:
    ACCOUNT_BREAKER_LISTENERS.register(name, listener)


def account_breaker_changed(*, broker: str, account_id: str, status: str, detail: str) -> None:
    ACCOUNT_BREAKER_LISTENERS.call_all(
        broker=broker,
        account_id=str(account_id),
        status=status,
        detail=detail,
        on_error=_ACCOUNT_BREAKER_LOG_AND_CONTINUE,
    )


# Told when OMS may have missed what happened at a real broker: a stream (re)connected, the
# stream runner started. listener(*, account_id: str). pnl registers its reconciliation (run
# the account's reconciliation now, not at the next minute). Adapters call
# `stream_reconnected(account_id=...)` after each reconnect of their stream_run.
ResyncListener = Callable[..., object]
RESYNC_LISTENERS: Registry[ResyncListener] = Registry("resync listener")
_RESYNC_LOG_AND_CONTINUE = LogAndContinue(
    logger,
    # a failed catch-up is retried by the minute job; reported
    "Resync listener %s failed for account %s",
    describe=lambda *, account_id: (account_id,),
)


def register_resync_listener(name: str, listener: ResyncListener) -> None:
    RESYNC_LISTENERS.register(name, listener)


def stream_reconnected(*, account_id: str) -> None:
    RESYNC_LISTENERS.call_all(account_id=str(account_id), on_error=_RESYNC_LOG_AND_CONTINUE)


# Orders and fills that happened at a real broker outside OMS (placed in the broker's own
# app, or while OMS was down), found by reconciliation or a stream: handed to the external
# sink, which imports them (marked external, booked through the same FIFO path). orders/
# registers it; until one is registered they stay unexplained and reconciliation raises a
# difference. sink(*, account_id: str, orders: list[BrokerOrderView],
# fills: list[BrokerFillView]) -> None.
ExternalSink = Callable[..., object]
EXTERNAL_SINKS: Registry[ExternalSink] = Registry("external sink")


def register_external_sink(name: str, sink: ExternalSink) -> None:
    EXTERNAL_SINKS.register(name, sink)


def has_external_sink() -> bool:
    return bool(EXTERNAL_SINKS.values())


def emit_external(*, account_id: str, orders: list, fills: list) -> bool:
    """Hand what the broker did outside OMS to the sinks; False when nobody takes it."""
    if not (orders or fills) or not EXTERNAL_SINKS.values():
        return False
    EXTERNAL_SINKS.call_all(account_id=str(account_id), orders=list(orders), fills=list(fills))
    return True
