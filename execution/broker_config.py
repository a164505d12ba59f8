"""Per-account broker configuration for real-broker adapters: decrypted credentials, the
connection's settings (base URLs) and the one writer of the connection's status, which
tells people when it changes.

Adapters never cache decrypted credentials beyond one client object; `BrokerAccountConfig`
has no repr of its secrets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from accounts.broker_sessions import expired_sessions_forget
from accounts.crypto import decrypt_credentials
from accounts.models import BrokerConnection, ConnectionStatus, TradingAccount
from execution.registry import broker_status_changed
from oms_site.locks import lock_one_or_none


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


def connection_status_record(
    *, account_id: str, state: str, detail: str, only_from: tuple[str, ...] | None = None
) -> bool:
    """THE writer of an account's connection status (a ConnectionState value), for adapters,
    streams, the test button and the circuit breaker alike: records it (last checked now)
    and, when the state changed, tells the account's members through
    `execution.registry.broker_status_changed` (notifications: broker.status_changed) — once
    per change, whichever process writes (the row is locked while compared). With
    `only_from`, nothing is written unless the current state is one of those. Returns
    whether the state changed."""
    row = (
        TradingAccount.objects.filter(pk=account_id).values_list("connection_id", "broker").first()
    )
    if row is None or row[0] is None:
        raise BrokerNotConfiguredError(f"account {account_id} has no broker connection")
    connection_id, broker = row
    with transaction.atomic():
        locked = lock_one_or_none(BrokerConnection.objects.only("status"), pk=connection_id)
        before = None if locked is None else locked.status
        if only_from is not None and before not in only_from:
            return False
        BrokerConnection.objects.filter(pk=connection_id).update(
            status=state, last_error=detail[:500], last_checked_at=timezone.now()
        )
        changed = before != state
        if changed:
            if ConnectionStatus.SESSION_EXPIRED in (before, state):
                # the expired-session banner of the account's members (accounts.broker_sessions)
                transaction.on_commit(lambda: expired_sessions_forget(account_id=account_id))
            broker_status_changed(
                broker=broker, status=state, detail=detail, account_id=str(account_id)
            )
    return changed


def db_ready() -> None:
    """Adapters run on the resilience wrapper's (and the streams') long-lived threads, where
    no request cycle closes database connections: drop one that is too old or broken
    (MariaDB's wait_timeout) before using it — never inside a caller's transaction."""
    if not connection.in_atomic_block:
        close_old_connections()
