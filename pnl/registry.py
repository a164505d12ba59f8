"""Hooks pnl's callers fill from their AppConfig.ready() (DESIGN.md: pnl imports only the
apps below it, so anything above is reached through here).

Wiring: pnl wires itself (pnl/apps.py) — live pushes and alerts through the publisher and
notifier notifications registers in accounts' registry (`publish_live`, `notify_account`
below), the venue's positions from execution — and orders registers the order placer of
`POST /api/v1/positions/close` (orders/apps.py).

Every hook is optional: without a publisher nothing is pushed, without a placer
`POST /api/v1/positions/close` answers 503, without a position source reconciliation
skips the account, without a notifier alerts are still stored and audited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from accounts import registry as accounts_registry

# publish(*, channel, event, data, account_id) -> None; must defer delivery to commit
# (notifications.services.publish does).
PositionPublisher = Callable[..., None]
# place(*, user, api_key, account_id, symbol, side, order_type, qty) -> object with `.order`
# (orders.services.order_place); raises oms_site.errors.ApplicationError subclasses.
OrderPlace = Callable[..., Any]
OrderSerialize = Callable[[Any], Mapping[str, Any]]
# cancel_open(*, user, api_key, account_id, symbol) -> object with `.failed`: a list of
# {"id", "code", "message"} for the orders that could not be canceled (each through the
# orders lifecycle: events, pushes) — orders.core.cancel.order_cancel_all.
OrderCancelOpen = Callable[..., Any]
# source(*, broker, account_id) -> iterable of objects with `.symbol` and signed `.qty`
# (execution.services.broker_positions).
PositionSource = Callable[..., Iterable[Any]]
# notify(*, account, kind, title, body, data, level) -> Any (notifications.services.notify)
AlertNotifier = Callable[..., Any]


@dataclass(frozen=True)
class OrderPlacer:
    place: OrderPlace
    serialize: OrderSerialize
    cancel_open: OrderCancelOpen | None = None


_hooks: dict[str, Any] = {}


def register_position_publisher(publisher: PositionPublisher) -> None:
    _hooks["position_publisher"] = publisher


def position_publisher() -> PositionPublisher | None:
    return _hooks.get("position_publisher")


def register_order_placer(
    *, place: OrderPlace, serialize: OrderSerialize, cancel_open: OrderCancelOpen | None = None
) -> None:
    _hooks["order_placer"] = OrderPlacer(place=place, serialize=serialize, cancel_open=cancel_open)


def order_placer() -> OrderPlacer | None:
    return _hooks.get("order_placer")


def register_position_source(source: PositionSource) -> None:
    _hooks["position_source"] = source


def position_source() -> PositionSource | None:
    return _hooks.get("position_source")


def register_alert_notifier(notifier: AlertNotifier) -> None:
    _hooks["alert_notifier"] = notifier


def alert_notifier() -> AlertNotifier | None:
    return _hooks.get("alert_notifier")


def hooks_snapshot() -> dict[str, Any]:
    """Current registrations (tests save and restore them around a change)."""
    return dict(_hooks)


def hooks_restore(saved: dict[str, Any]) -> None:
    _hooks.clear()
    _hooks.update(saved)


def publish_live(**kwargs: Any) -> None:
    """The position publisher pnl registers for itself: the app-wide live publisher
    (notifications', through accounts.registry), looked up at each push."""
    publisher = accounts_registry.live_publisher()
    if publisher is not None:
        publisher(**kwargs)


def notify_account(**kwargs: Any) -> Any:
    """The alert notifier pnl registers for itself: the app-wide notifier."""
    notifier = accounts_registry.account_notifier()
    return None if notifier is None else notifier(**kwargs)
