"""Hooks that upper layers register from their AppConfig.ready() (no hidden signals).

accounts must not import orders, yet buying power depends on open buy orders: orders
registers a commitment provider here. Likewise broker kinds (execution), demo seeders
(marketdata, orders) and dashboard panels (any app with something to show on `/`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest

    from accounts.models import TradingAccount

CommitmentProvider = Callable[["TradingAccount"], Decimal]
_commitment_providers: list[CommitmentProvider] = []


def register_commitment_provider(provider: CommitmentProvider) -> None:
    if provider not in _commitment_providers:
        _commitment_providers.append(provider)


def commitment_providers() -> tuple[CommitmentProvider, ...]:
    return tuple(_commitment_providers)


# --- Broker kinds -----------------------------------------------------------------------
# accounts validates `TradingAccount.broker` but must not import execution (DESIGN.md). The
# built-in kinds are always known; more come from (a) the OMS_EXTRA_BROKER_KINDS setting and
# (b) providers registered from an upper app's ready(), e.g. in execution/apps.py:
#     accounts.registry.register_broker_kinds_provider("execution", execution.registry.broker_kinds)
BUILTIN_BROKER_KINDS: tuple[str, ...] = ("paper", "exchange")
BrokerKindsProvider = Callable[[], Iterable[str]]
_broker_kind_providers: dict[str, BrokerKindsProvider] = {}


def register_broker_kinds_provider(name: str, provider: BrokerKindsProvider) -> None:
    """Idempotent by name (a second ready() in tests or autoreload replaces, not doubles)."""
    _broker_kind_providers[name] = provider


def broker_kinds() -> list[str]:
    from django.conf import settings

    kinds = set(BUILTIN_BROKER_KINDS)
    kinds.update(getattr(settings, "OMS_EXTRA_BROKER_KINDS", ()))
    for provider in _broker_kind_providers.values():
        kinds.update(provider())
    return sorted(kinds)


# --- Demo seeders -----------------------------------------------------------------------
# `manage.py seed_demo` creates the demo users and accounts, then runs every registered seeder
# in registration order (INSTALLED_APPS order: marketdata before orders). A seeder takes no
# arguments, must be idempotent, and may return a one-line summary to print. Register from
# ready(), e.g. in marketdata/apps.py:
#     accounts.registry.register_demo_seeder("instruments", services.seed_demo_instruments)
DemoSeeder = Callable[[], object]
_demo_seeders: dict[str, DemoSeeder] = {}


def register_demo_seeder(name: str, seeder: DemoSeeder) -> None:
    _demo_seeders[name] = seeder


def demo_seeders() -> list[tuple[str, DemoSeeder]]:
    return list(_demo_seeders.items())


# --- Dashboard panels -------------------------------------------------------------------
# The dashboard (`/`, templates/dashboard.html) renders the accounts summary, then every
# registered panel: `template` is included with the dict returned by `context(request)`.
@dataclass(frozen=True)
class DashboardPanel:
    name: str
    template: str
    context: Callable[[HttpRequest], dict[str, Any]] | None = None
    order: int = 100


_dashboard_panels: dict[str, DashboardPanel] = {}


def register_dashboard_panel(panel: DashboardPanel) -> None:
    _dashboard_panels[panel.name] = panel


def dashboard_panels() -> list[DashboardPanel]:
    return sorted(_dashboard_panels.values(), key=lambda panel: (panel.order, panel.name))


# --- Kill-switch listeners ---------------------------------------------------------------
# accounts must not import notifications; notifications registers here from its ready() to
# tell people (and live pages' banner) when a kill switch is engaged or released. Called in
# the transaction of the change: listener(*, account: TradingAccount | None (None: the
# global switch), engaged: bool, actor, reason: str).
KillSwitchListener = Callable[..., None]
_kill_switch_listeners: dict[str, KillSwitchListener] = {}


def register_kill_switch_listener(name: str, listener: KillSwitchListener) -> None:
    _kill_switch_listeners[name] = listener


def kill_switch_listeners() -> tuple[KillSwitchListener, ...]:
    return tuple(_kill_switch_listeners.values())


# --- Live pushes and notifications -------------------------------------------------------
# notifications owns the live event bus and the notifications, and registers both here from
# its ready(); apps that may not import notifications (pnl) reach them through here:
#   publisher(*, channel, event, data, account_id) -> None (delivered on commit);
#   notifier(*, account, kind, title, body, data, level) -> Any.
LivePublisher = Callable[..., None]
AccountNotifier = Callable[..., Any]
_live_hooks: dict[str, Callable[..., Any]] = {}


def register_live_publisher(publisher: LivePublisher) -> None:
    _live_hooks["publisher"] = publisher


def live_publisher() -> LivePublisher | None:
    return _live_hooks.get("publisher")


def register_account_notifier(notifier: AccountNotifier) -> None:
    _live_hooks["notifier"] = notifier


def account_notifier() -> AccountNotifier | None:
    return _live_hooks.get("notifier")
