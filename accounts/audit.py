"""The audit log's one writer: who did what to which object, with the data of the change."""

from __future__ import annotations

from typing import Any

from accounts.models import AuditLogEntry, User


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
