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

from oms_site.registry import Registry

if TYPE_CHECKING:
    from django.http import HttpRequest

    from accounts.models import TradingAccount

# Keyed by the provider itself: registering the same provider twice is a no-op.
CommitmentProvider = Callable[["TradingAccount"], Decimal]
COMMITMENT_PROVIDERS: Registry[CommitmentProvider] = Registry("commitment provider")


def register_commitment_provider(provider: CommitmentProvider) -> None:
    COMMITMENT_PROVIDERS.register(provider, provider)


def commitment_providers() -> tuple[CommitmentProvider, ...]:
    return COMMITMENT_PROVIDERS.values()


# --- Broker kinds -----------------------------------------------------------------------
# accounts validates `TradingAccount.broker` but must not import execution (DESIGN.md). The
# built-in kinds are always known; more come from (a) the OMS_EXTRA_BROKER_KINDS setting and
# (b) providers registered from an upper app's ready(), e.g. in execution/apps.py:
#     accounts.registry.register_broker_kinds_provider("execution", execution.registry.broker_kinds)
BUILTIN_BROKER_KINDS: tuple[str, ...] = ("paper", "exchange")
BrokerKindsProvider = Callable[[], Iterable[str]]
BROKER_KINDS_PROVIDERS: Registry[BrokerKindsProvider] = Registry("broker kinds provider")


def register_broker_kinds_provider(name: str, provider: BrokerKindsProvider) -> None:
    """Idempotent by name (a second ready() in tests or autoreload replaces, not doubles)."""
    BROKER_KINDS_PROVIDERS.register(name, provider)


def broker_kinds() -> list[str]:
    from django.conf import settings

    kinds = set(BUILTIN_BROKER_KINDS)
    kinds.update(getattr(settings, "OMS_EXTRA_BROKER_KINDS", ()))
    for provider in BROKER_KINDS_PROVIDERS.values():
        kinds.update(provider())
    return sorted(kinds)


# --- Demo seeders -----------------------------------------------------------------------
# `manage.py seed_demo` creates the demo users and accounts, then runs every registered seeder
# in registration order (INSTALLED_APPS order: marketdata before orders). A seeder takes no
# arguments, must be idempotent, and may return a one-line summary to print. Register from
# ready(), e.g. in marketdata/apps.py:
#     accounts.registry.register_demo_seeder("instruments", services.seed_demo_instruments)
DemoSeeder = Callable[[], object]
DEMO_SEEDERS: Registry[DemoSeeder] = Registry("demo seeder")


def register_demo_seeder(name: str, seeder: DemoSeeder) -> None:
    DEMO_SEEDERS.register(name, seeder)


def demo_seeders() -> list[tuple[str, DemoSeeder]]:
    return [(str(name), seeder) for name, seeder in DEMO_SEEDERS.items()]


# --- Dashboard panels -------------------------------------------------------------------
# The dashboard (`/`, templates/dashboard.html) renders the accounts summary, then every
# registered panel: `template` is included with the dict returned by `context(request)`.
@dataclass(frozen=True)
class DashboardPanel:
    name: str
    template: str
    context: Callable[[HttpRequest], dict[str, Any]] | None = None
    order: int = 100


DASHBOARD_PANELS: Registry[DashboardPanel] = Registry("dashboard panel")


def register_dashboard_panel(panel: DashboardPanel) -> None:
    DASHBOARD_PANELS.register(panel.name, panel)


def dashboard_panels() -> list[DashboardPanel]:
    return sorted(DASHBOARD_PANELS.values(), key=lambda panel: (panel.order, panel.name))


# --- Kill-switch listeners ---------------------------------------------------------------
# accounts must not import notifications; notifications registers here from its ready() to
# tell people (and live pages' banner) when a kill switch is engaged or released. Called in
# the transaction of the change: listener(*, account: TradingAccount | None (None: the
# global switch), engaged: bool, actor, reason: str). A listener that raises rolls the change
# back (KILL_SWITCH_LISTENERS.call_all without an error policy).
KillSwitchListener = Callable[..., None]
KILL_SWITCH_LISTENERS: Registry[KillSwitchListener] = Registry("kill-switch listener")


def register_kill_switch_listener(name: str, listener: KillSwitchListener) -> None:
    KILL_SWITCH_LISTENERS.register(name, listener)


def kill_switch_listeners() -> tuple[KillSwitchListener, ...]:
    return KILL_SWITCH_LISTENERS.values()
