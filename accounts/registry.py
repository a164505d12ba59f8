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


# --- Real-broker connections --------------------------------------------------------------
# What a broker kind needs to be reached (execution/connection_specs.py registers Alpaca's and
# Kite's from its ready()): the credential keys (stored encrypted, never shown) and the
# settings (base URLs, shown and editable) with their defaults. accounts validates account
# input against these without knowing any broker (it must not import execution).
@dataclass(frozen=True)
class ConnectionField:
    name: str
    label: str
    help: str = ""
    required: bool = True
    default: str = ""  # settings only: used when the field is left out
    schemes: tuple[str, ...] = ()  # settings only: the URL schemes allowed (empty: any text)


@dataclass(frozen=True)
class BrokerConnectionSpec:
    broker: str
    title: str  # "Alpaca", "Zerodha Kite"
    currency: str  # the account currency when none is given
    credentials: tuple[ConnectionField, ...]
    settings: tuple[ConnectionField, ...]
    intro: str = ""  # one paragraph for the connect page

    def settings_defaults(self) -> dict[str, str]:
        return {field.name: field.default for field in self.settings if field.default}


CONNECTION_SPECS: Registry[BrokerConnectionSpec] = Registry("broker connection spec")


def register_broker_connection_spec(spec: BrokerConnectionSpec) -> None:
    CONNECTION_SPECS.register(spec.broker, spec)


def broker_connection_spec(broker: str) -> BrokerConnectionSpec | None:
    """The spec of a real broker kind; None for kinds that need no connection (paper, …)."""
    return CONNECTION_SPECS.get(broker, None)


def broker_connection_specs() -> list[BrokerConnectionSpec]:
    kinds = broker_kinds()
    return sorted(
        (spec for spec in CONNECTION_SPECS.values() if spec.broker in kinds),
        key=lambda spec: spec.broker,
    )


# --- Funds of broker accounts ----------------------------------------------------------------
# Cash and buying power of an account at a real broker come from the broker (execution
# registers the provider; it caches briefly and keeps the last known value). provider(account)
# → AccountFunds, or None for an account whose money OMS itself keeps (paper, exchange).
@dataclass(frozen=True)
class AccountFunds:
    cash: Decimal | None  # None: the broker never answered yet
    buying_power: Decimal | None
    as_of: Any = None  # datetime of the broker's answer shown
    error: str = ""  # in words, when the last ask failed ("shown: the value of 3 min ago")
    source: str = "broker"


FundsProvider = Callable[["TradingAccount"], AccountFunds | None]
FUNDS_PROVIDERS: Registry[FundsProvider] = Registry("funds provider")


def register_funds_provider(name: str, provider: FundsProvider) -> None:
    FUNDS_PROVIDERS.register(name, provider)


def account_funds(account: TradingAccount) -> AccountFunds | None:
    for provider in FUNDS_PROVIDERS.values():
        funds = provider(account)
        if funds is not None:
            return funds
    return None


# --- Live pushes and notifications ---------------------------------------------------------
# notifications owns the live event bus and the notifications and registers both here from
# its ready(); apps that may not import notifications (pnl sits beside it) reach them here:
#   "publisher": publisher(*, channel, event, data, account_id) -> None (delivered on commit);
#   "notifier": notifier(*, account, kind, title, body, data, level) -> Any.
LIVE_HOOKS: Registry[Callable[..., Any]] = Registry("live push hook")


def register_live_publisher(publisher: Callable[..., None]) -> None:
    LIVE_HOOKS.register("publisher", publisher)


def live_publisher() -> Callable[..., None] | None:
    return LIVE_HOOKS.get("publisher", None)


def register_account_notifier(notifier: Callable[..., Any]) -> None:
    LIVE_HOOKS.register("notifier", notifier)


def account_notifier() -> Callable[..., Any] | None:
    return LIVE_HOOKS.get("notifier", None)
