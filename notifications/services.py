"""Writes for notifications: in-app notifications (`notify`), marking them read, purging.

Live pushes (`publish`, `publish_now`, `publish_batch`, `apublish`, `publishing_together`,
`pushes_sent_together`) live in notifications/publishing.py, whose docstring shows their use;
they are re-exported here, the one import every app uses.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import TradingAccount, User
from accounts.selectors import account_ids_for_user
from notifications.delivery_plan import deliveries_plan
from notifications.models import DeliveryChannel, Notification, NotificationLevel
from notifications.preferences import preferences_for_users
from notifications.publishing import (
    STREAM_MESSAGE_TYPE,
    Envelope,
    PublishBatch,
    apublish,
    build_envelopes,
    burst_collect,
    channel_layer_flush,
    publish,
    publish_batch,
    publish_now,
    publishing_together,
    pushes_sent_together,
    read_once,
    stream_audience,
)
from notifications.selectors import (
    account_recipients,
    notification_get,
    notification_unread_count,
)
from notifications.serializers import NotificationSerializer
from notifications.stream import NOTIFICATIONS, json_safe, normalize_id
from oms_site.compiled_query import insert_new
from oms_site.locks import lock_rows
from oms_site.representation import represent

__all__ = [
    "STREAM_MESSAGE_TYPE",
    "Envelope",
    "PublishBatch",
    "apublish",
    "build_envelopes",
    "channel_layer_flush",
    "notification_mark_all_read",
    "notification_mark_read",
    "notification_purge",
    "notify",
    "notify_account_members",
    "publish",
    "publish_batch",
    "publish_now",
    "publishing_together",
    "pushes_sent_together",
    "stream_audience",
]

logger = logging.getLogger(__name__)

IN_APP = DeliveryChannel.IN_APP
_TITLE_MAX = 200
_KIND_MAX = 64


# --- In-app notifications ---------------------------------------------------------------


def _publish_to_user(*, user_id: object, event: str, data: Mapping[str, Any]) -> None:
    publish(channel=NOTIFICATIONS, event=event, data=data, user_id=user_id)


def notify(
    *,
    user: User | None = None,
    account: TradingAccount | None = None,
    kind: str,
    title: str,
    body: str = "",
    data: Mapping[str, Any] | None = None,
    level: str = NotificationLevel.INFO,
    coalesce: str = "",
) -> list[Notification]:
    """THE entry point for telling people something, in app and by their chosen channels.

    `user` given: that user only (`account`, if also given, is what it is about and must be
    visible to them). Only `account`: every active member of the account. Stores one row per
    recipient in the caller's transaction (a rolled-back event notifies nobody), plans the
    email/webhook/chat deliveries of their preferences, and pushes `notification.created`
    to each on commit; the deliveries (planned by delivery_plan.py) are sent after commit
    (notifications/delivery.py).

    `coalesce` (e.g. "order:<id>"): a recipient who still has an unread notification of this
    kind and key gets it updated (`notification.updated`) instead of a new one — a burst of
    partial fills is one message with the running total, and makes no new deliveries.
    """
    if user is None and account is None:
        raise ValueError("notify() needs a user or an account.")
    if not kind or len(kind) > _KIND_MAX:
        raise ValueError(f"Invalid notification kind {kind!r}.")
    if level not in NotificationLevel.values:
        raise ValueError(f"Invalid notification level {level!r}.")
    if user is not None:
        if account is not None and normalize_id(account.pk) not in account_ids_for_user(user=user):
            raise ValueError("notify(): the user may not see this account.")
        recipients = [user] if user.is_active else []
    else:
        assert account is not None
        recipients = read_once(
            ("recipients", account.pk), lambda: account_recipients(account=account)
        )

    if len(title) > _TITLE_MAX:
        title = title[: _TITLE_MAX - 1] + "…"
    safe_data = json_safe(dict(data or {}))
    # The caller's transaction (no savepoint: a burst notifies hundreds of times), or its
    # own; the refusals above come first, so a caller that catches them can go on.
    with transaction.atomic(savepoint=False):
        return _notify_store(
            recipients=recipients,
            account=account,
            kind=kind,
            title=title,
            body=body,
            data=safe_data,
            level=level,
            coalesce=coalesce,
        )


def _notify_store(
    *,
    recipients: list[User],
    account: TradingAccount | None,
    kind: str,
    title: str,
    body: str,
    data: dict[str, Any],
    level: str,
    coalesce: str,
) -> list[Notification]:
    safe_data = data
    if coalesce and recipients:
        recipients = _coalesce_into_unread(
            recipients=recipients, kind=kind, key=coalesce, title=title, body=body, data=safe_data
        )
    now = timezone.now()
    user_ids = tuple(recipient.pk for recipient in recipients)
    prefs = read_once(("prefs", user_ids), lambda: preferences_for_users(user_ids=user_ids))
    rows = [
        Notification(
            user=recipient,
            account=account,
            kind=kind,
            level=level,
            title=title,
            body=body,
            data=safe_data,
            group_key=coalesce,
            created_at=now,
            # In-app switched off for this event: kept (the delivery log points at it) but
            # already read, so neither the bell nor a toast shows it.
            read_at=None if IN_APP in prefs[recipient.pk].channels_for(kind) else now,
        )
        for recipient in recipients
    ]
    # In a burst (publishing_together) the rows are written, and their deliveries planned,
    # once for the whole burst at its end; a coalescing kind is written now, as the next
    # one of its key must find it.
    pending = None if coalesce else burst_collect("notifications", _notifications_store)
    if pending is not None:
        pending.append((rows, prefs))
    else:
        insert_new(rows)
    for row in rows:
        if row.read_at is None:
            _publish_to_user(
                user_id=row.user_id,
                event="notification.created",
                data=represent(NotificationSerializer, row),
            )
    if pending is not None:
        return rows
    deliveries_plan(notifications=rows, prefs=prefs)
    return rows


def _notifications_store(
    pending: list[tuple[list[Notification], dict[object, Any]]],
) -> None:
    """A burst's notifications: one INSERT, then their deliveries planned together."""
    rows = [row for batch, _ in pending for row in batch]
    prefs: dict[object, Any] = {}
    for _, batch_prefs in pending:
        prefs.update(batch_prefs)
    insert_new(rows)
    deliveries_plan(notifications=rows, prefs=prefs)


def notify_account_members(
    *,
    account: TradingAccount,
    event: str,
    title: str,
    body: str = "",
    data: Mapping[str, Any] | None = None,
    level: str = NotificationLevel.INFO,
    coalesce: str = "",
) -> list[Notification]:
    """The public way for any app to tell an account's members about `event` (an API.md
    event name): in-app plus each member's chosen channels. Call it inside the transaction
    that makes the event happen."""
    return notify(
        account=account,
        kind=event,
        title=title,
        body=body,
        data=data,
        level=level,
        coalesce=coalesce,
    )


def _coalesce_into_unread(
    *,
    recipients: list[User],
    kind: str,
    key: str,
    title: str,
    body: str,
    data: dict[str, Any],
) -> list[User]:
    """Update recipients' unread notification of (kind, key); return those who had none."""
    existing = lock_rows(
        Notification.objects.filter(
            group_key=key,
            kind=kind,
            read_at__isnull=True,
            user_id__in=[recipient.pk for recipient in recipients],
        ).select_related("account")
    )
    if not existing:
        return recipients
    Notification.objects.filter(pk__in=[row.pk for row in existing]).update(
        title=title, body=body, data=data
    )
    for row in existing:
        row.title, row.body, row.data = title, body, data
        _publish_to_user(
            user_id=row.user_id, event="notification.updated", data=NotificationSerializer(row).data
        )
    updated_users = {row.user_id for row in existing}
    return [recipient for recipient in recipients if recipient.pk not in updated_users]


@transaction.atomic
def notification_mark_read(*, user: User, notification_id: object) -> Notification:
    """Mark one of the user's own notifications read (idempotent). Others' → NotFound."""
    notification = notification_get(user=user, notification_id=notification_id)
    if notification.read_at is None:
        now = timezone.now()
        updated = Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=now
        )
        if updated:
            notification.read_at = now
            _publish_to_user(
                user_id=user.pk,
                event="notification.read",
                data={"ids": [notification.pk], "unread": notification_unread_count(user=user)},
            )
        else:
            notification.refresh_from_db(fields=["read_at"])
    return notification


@transaction.atomic
def notification_mark_all_read(*, user: User) -> int:
    """Mark every unread notification of the user read; returns how many changed."""
    updated = Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if updated:
        _publish_to_user(
            user_id=user.pk,
            event="notification.read_all",
            data={"updated": updated, "unread": notification_unread_count(user=user)},
        )
    return updated


@transaction.atomic
def notification_purge(*, older_than: timedelta) -> int:
    """Delete notifications (read or not) created before now − older_than."""
    cutoff = timezone.now() - older_than
    deleted, _ = Notification.objects.filter(created_at__lt=cutoff).delete()
    return deleted
