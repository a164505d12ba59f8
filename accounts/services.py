"""Writes for accounts: API keys, accounts, memberships, limits, the audit log."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, AuditLogEntry, User

API_KEY_PREFIX_LEN = 8
_LAST_USED_RESOLUTION = timedelta(seconds=60)


def _hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    raw_key: str  # shown once, never stored


def api_key_create(
    *,
    user: User,
    name: str = "",
    expires_at: datetime | None = None,
    scopes: list[str] | None = None,
    actor: User | None = None,
) -> IssuedApiKey:
    prefix = secrets.token_hex(API_KEY_PREFIX_LEN // 2)
    while ApiKey.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(API_KEY_PREFIX_LEN // 2)
    raw_key = f"oms_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        user=user,
        name=name,
        prefix=prefix,
        key_hash=_hash_key(raw_key),
        expires_at=expires_at,
        scopes=scopes or [],
    )
    audit_log_record(
        actor=actor or user,
        action="api_key.create",
        obj=api_key,
        data={"prefix": prefix, "name": name},
    )
    return IssuedApiKey(api_key=api_key, raw_key=raw_key)


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The usable key matching `raw_key`, or None. Constant-time hash comparison."""
    parts = raw_key.split("_")
    if len(parts) < 3 or parts[0] != "oms":
        return None
    prefix = parts[1]
    api_key = ApiKey.objects.select_related("user").filter(prefix=prefix).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, _hash_key(raw_key)):
        return None
    now = timezone.now()
    if not api_key.is_usable(now):
        return None
    # Coarse last-used time: one write a minute per key, not one per request.
    if api_key.last_used_at is None or now - api_key.last_used_at > _LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: User | None) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit_log_record(
            actor=actor, action="api_key.revoke", obj=api_key, data={"prefix": api_key.prefix}
        )
    return api_key


def audit_log_record(
    *, actor: User | None, action: str, obj: Any, data: dict[str, Any] | None = None
) -> AuditLogEntry:
    return AuditLogEntry.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        action=action,
        object_type=obj._meta.label_lower if hasattr(obj, "_meta") else type(obj).__name__,
        object_id=str(getattr(obj, "pk", "")),
        object_repr=str(obj)[:200],
        data=data or {},
    )
