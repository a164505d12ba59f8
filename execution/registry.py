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


# Told when a broker kind becomes unreachable (its circuit breaker opens: "disconnected") or
# reachable again ("connected"): listener(*, broker: str, status: str, detail: str).
# notifications registers one from its ready() (execution must not import it). A listener
# that raises is logged and the others still run: telling people must never break a broker
# call.
BrokerStatusListener = Callable[..., object]
BROKER_STATUS_LISTENERS: Registry[BrokerStatusListener] = Registry("broker status listener")


def register_broker_status_listener(name: str, listener: BrokerStatusListener) -> None:
    BROKER_STATUS_LISTENERS.register(name, listener)


_LOG_AND_CONTINUE = LogAndContinue(
    logger,
    "Broker status listener %s failed for %s → %s",
    describe=lambda *, broker, status, detail: (broker, status),
)


def broker_status_changed(*, broker: str, status: str, detail: str) -> None:
    BROKER_STATUS_LISTENERS.call_all(
        broker=broker, status=status, detail=detail, on_error=_LOG_AND_CONTINUE
    )
