"""Hooks that upper layers register from their AppConfig.ready() (no hidden signals).

accounts must not import orders, yet buying power depends on open buy orders: orders
registers a commitment provider here.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from accounts.models import TradingAccount

CommitmentProvider = Callable[["TradingAccount"], Decimal]
_commitment_providers: list[CommitmentProvider] = []


def register_commitment_provider(provider: CommitmentProvider) -> None:
    if provider not in _commitment_providers:
        _commitment_providers.append(provider)


def commitment_providers() -> tuple[CommitmentProvider, ...]:
    return tuple(_commitment_providers)
