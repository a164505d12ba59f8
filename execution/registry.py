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


# Told when a broker kind becomes unreachable (its circuit breaker opens: "disconnected") or
# reachable again ("connected"): listener(*, broker: str, status: str, detail: str).
# notifications registers one from its ready() (execution must not import it).
BrokerStatusListener = Callable[..., object]
_broker_status_listeners: dict[str, BrokerStatusListener] = {}


def register_broker_status_listener(name: str, listener: BrokerStatusListener) -> None:
    _broker_status_listeners[name] = listener


def broker_status_changed(*, broker: str, status: str, detail: str) -> None:
    for listener in tuple(_broker_status_listeners.values()):
        try:
            listener(broker=broker, status=status, detail=detail)
        except Exception:  # telling people must never break a broker call; reported
            logger.exception("Broker status listener failed for %s → %s", broker, status)
