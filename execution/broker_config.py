"""Per-account broker configuration for real-broker adapters: decrypted credentials, the
connection's settings (base URLs) and the one writer of the connection's status.

Adapters never cache decrypted credentials beyond one client object; `BrokerAccountConfig`
has no repr of its secrets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import close_old_connections, connection
from django.utils import timezone

from accounts.crypto import decrypt_credentials
from accounts.models import BrokerConnection, TradingAccount


@dataclass(frozen=True, slots=True)
class BrokerAccountConfig:
    account_id: str
    broker: str
    connection_id: str
    settings: dict[str, Any]
    credentials: dict[str, Any] = field(repr=False)


class BrokerNotConfiguredError(LookupError):
    """The account has no broker connection (or no credentials) to reach its broker."""


def broker_account_config(*, account_id: str) -> BrokerAccountConfig:
    account = TradingAccount.objects.select_related("connection").filter(pk=account_id).first()
    if account is None or account.connection is None:
        raise BrokerNotConfiguredError(f"account {account_id} has no broker connection")
    connection = account.connection
    return BrokerAccountConfig(
        account_id=str(account.pk),
        broker=account.broker,
        connection_id=str(connection.pk),
        settings=dict(connection.settings or {}),
        credentials=decrypt_credentials(connection.credentials_encrypted)
        if connection.credentials_encrypted
        else {},
    )


def connection_status_record(*, account_id: str, state: str, detail: str) -> bool:
    """Write the account's connection status (a ConnectionState value). Returns True when it
    changed, so the caller tells people (broker.status_changed) only on a change."""
    connection_id = (
        TradingAccount.objects.filter(pk=account_id).values_list("connection_id", flat=True).first()
    )
    if connection_id is None:
        raise BrokerNotConfiguredError(f"account {account_id} has no broker connection")
    changed = (
        BrokerConnection.objects.filter(pk=connection_id)
        .exclude(status=state, last_error=detail[:500])
        .update(status=state, last_error=detail[:500], last_checked_at=timezone.now())
    )
    if not changed:
        BrokerConnection.objects.filter(pk=connection_id).update(last_checked_at=timezone.now())
    return bool(changed)


def db_ready() -> None:
    """Adapters run on the resilience wrapper's (and the streams') long-lived threads, where
    no request cycle closes database connections: drop one that is too old or broken
    (MariaDB's wait_timeout) before using it — never inside a caller's transaction."""
    if not connection.in_atomic_block:
        close_old_connections()
