"""Hooks pnl's callers fill from their AppConfig.ready() (DESIGN.md: pnl imports only
marketdata and accounts, so anything above or beside it is reached through here).

Wiring: pnl wires its live pushes and alerts itself (pnl/apps.py): `publish_live` and
`notify_account` below hand them to the publisher and notifier notifications registers in
accounts' registry. orders wires the rest (orders/apps.py; execution sits beside pnl): the
order placer of `POST /api/v1/positions/close`, the venue's positions and working orders
for reconciliation, the resync on a broker stream's reconnect.

Every hook is optional: without a publisher nothing is pushed, without a placer
`POST /api/v1/positions/close` answers 503, without a position source reconciliation
skips the account, without a notifier alerts are still stored and audited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from accounts import registry as accounts_registry
from oms_site.registry import Registry

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
# source(*, account_id, client_order_ids: list[str]) -> iterable of execution.broker_sync.
# OurOrder: the account's open orders plus those with the given ids (any status). orders/
# registers it; without it, reconciliation with a real broker compares positions and flags
# only the broker's orders that carry no client id (placed outside OMS).
OpenOrdersSource = Callable[..., Iterable[Any]]


@dataclass(frozen=True)
class OrderPlacer:
    place: OrderPlace
    serialize: OrderSerialize
    cancel_open: OrderCancelOpen | None = None


# One slot per hook: registering a hook again replaces it.
HOOKS: Registry[Any] = Registry("pnl hook")


def register_position_publisher(publisher: PositionPublisher) -> None:
    HOOKS.register("position_publisher", publisher)


def position_publisher() -> PositionPublisher | None:
    return HOOKS.get("position_publisher", None)


def register_order_placer(
    *, place: OrderPlace, serialize: OrderSerialize, cancel_open: OrderCancelOpen | None = None
) -> None:
    HOOKS.register(
        "order_placer", OrderPlacer(place=place, serialize=serialize, cancel_open=cancel_open)
    )


def order_placer() -> OrderPlacer | None:
    return HOOKS.get("order_placer", None)


def register_position_source(source: PositionSource) -> None:
    HOOKS.register("position_source", source)


def position_source() -> PositionSource | None:
    return HOOKS.get("position_source", None)


def register_alert_notifier(notifier: AlertNotifier) -> None:
    HOOKS.register("alert_notifier", notifier)


def alert_notifier() -> AlertNotifier | None:
    return HOOKS.get("alert_notifier", None)


def register_open_orders_source(source: OpenOrdersSource) -> None:
    HOOKS.register("open_orders_source", source)


def open_orders_source() -> OpenOrdersSource | None:
    return HOOKS.get("open_orders_source", None)


# Compares the account's open orders with a real broker's (execution.broker_sync): pnl and
# execution sit side by side (DESIGN.md), so orders wires it. checker(*, account_id, broker,
# ours, now, fills_since) → a result with `.differences`, or None when the broker is internal.
BrokerOrdersChecker = Callable[..., Any]


def register_broker_orders_checker(checker: BrokerOrdersChecker) -> None:
    HOOKS.register("broker_orders_checker", checker)


def broker_orders_checker() -> BrokerOrdersChecker | None:
    return HOOKS.get("broker_orders_checker", None)


def hooks_snapshot() -> dict[str, Any]:
    """Current registrations (tests save and restore them around a change)."""
    return {str(name): hook for name, hook in HOOKS.items()}


def hooks_restore(saved: dict[str, Any]) -> None:
    HOOKS.restore(saved)


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
