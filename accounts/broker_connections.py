"""Writes for broker connections: create, replace credentials (encrypted, never audited in
clear), re-encrypt all with a new primary key."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import InvalidToken
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from accounts import crypto, registry
from accounts.audit import audit_log_record
from accounts.broker_sessions import expired_sessions_forget
from accounts.connection_rules import connection_credentials_errors, connection_settings_errors
from accounts.models import AuditLogEntry, BrokerConnection, ConnectionStatus, User
from oms_site.errors import ValidationFailed
from oms_site.locks import lock_rows


def _credentials_clean(credentials: Any) -> dict[str, Any]:
    if not isinstance(credentials, dict):
        raise ValidationFailed(
            "Credentials must be a JSON object.",
            fields={"credentials": ["Must be a JSON object."]},
        )
    return credentials


@sensitive_variables("credentials")
@transaction.atomic
def broker_connection_create(
    *,
    name: str,
    broker: str,
    owner: User | None,
    credentials: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    actor: User | None = None,
) -> BrokerConnection:
    if broker not in registry.broker_kinds():
        raise ValidationFailed(
            "Unknown broker.", fields={"broker": [f"Unknown broker kind {broker!r}."]}
        )
    clean_settings, errors = connection_settings_errors(broker=broker, settings_in=settings)
    errors.update(connection_credentials_errors(broker=broker, credentials=credentials or {}))
    if errors:
        raise ValidationFailed("The broker connection is not valid.", fields=errors)
    connection = BrokerConnection.objects.create(
        name=name[:120],
        broker=broker,
        owner=owner,
        credentials_encrypted=crypto.encrypt_credentials(_credentials_clean(credentials or {})),
        settings=clean_settings,
        status=ConnectionStatus.UNKNOWN,
    )
    audit_log_record(
        actor=actor,
        action="broker_connection.create",
        obj=connection,
        data={"broker": broker, "has_credentials": connection.has_credentials},
    )
    return connection


@sensitive_variables("credentials")
@transaction.atomic
def broker_connection_set_credentials(
    *, connection: BrokerConnection, credentials: dict[str, Any], actor: User | None
) -> BrokerConnection:
    """Replace the stored credentials (encrypted with the primary key). Never audited in clear.
    The status becomes "not checked yet": an expired session's banner goes (on commit)."""
    token = crypto.encrypt_credentials(_credentials_clean(credentials))
    transaction.on_commit(lambda: expired_sessions_forget(connection_id=connection.pk))
    BrokerConnection.objects.filter(pk=connection.pk).update(
        credentials_encrypted=token, status=ConnectionStatus.UNKNOWN, last_error=""
    )
    connection.refresh_from_db()
    audit_log_record(
        actor=actor,
        action="broker_connection.credentials_set",
        obj=connection,
        data={"has_credentials": connection.has_credentials},
    )
    return connection


@transaction.atomic
def broker_connection_rotate_all(*, actor: User | None = None) -> int:
    """Re-encrypt every stored token with the primary key (after a new key was prepended).

    Raises `crypto.CredentialsUnreadable` (and rolls everything back) if a token was made with
    a key that is no longer configured.
    """
    rotated = 0
    connections = lock_rows(BrokerConnection.objects.exclude(credentials_encrypted=""))
    for connection in connections:
        try:
            token = crypto.rotate_token(connection.credentials_encrypted)
        except InvalidToken as exc:
            raise crypto.CredentialsUnreadable(
                f"broker connection {connection.pk} cannot be decrypted with the configured keys"
            ) from exc
        BrokerConnection.objects.filter(pk=connection.pk).update(credentials_encrypted=token)
        rotated += 1
    if rotated:
        AuditLogEntry.objects.create(
            actor=actor,
            action="broker_connection.rotate_all",
            object_type=BrokerConnection._meta.label_lower,
            object_id="*",
            object_repr="all broker connections",
            data={"rotated": rotated},
        )
    return rotated
