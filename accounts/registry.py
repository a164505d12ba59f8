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


_connection_specs: dict[str, BrokerConnectionSpec] = {}


def register_broker_connection_spec(spec: BrokerConnectionSpec) -> None:
    _connection_specs[spec.broker] = spec


def broker_connection_spec(broker: str) -> BrokerConnectionSpec | None:
    """The spec of a real broker kind; None for kinds that need no connection (paper, …)."""
    return _connection_specs.get(broker)


def broker_connection_specs() -> list[BrokerConnectionSpec]:
    return [spec for kind, spec in sorted(_connection_specs.items()) if kind in broker_kinds()]


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
_funds_providers: dict[str, FundsProvider] = {}


def register_funds_provider(name: str, provider: FundsProvider) -> None:
    _funds_providers[name] = provider


def account_funds(account: TradingAccount) -> AccountFunds | None:
    for provider in tuple(_funds_providers.values()):
        funds = provider(account)
        if funds is not None:
            return funds
    return None
