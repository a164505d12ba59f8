"""Reads of what a user set up to be told, and of the delivery log."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet

from accounts.models import User
from notifications.models import Delivery, WebhookEndpoint
from notifications.preferences import Preferences, preferences_for_users
from oms_site.errors import NotFound
from oms_site.locks import lock_one


def preferences_get(*, user: User) -> Preferences:
    return preferences_for_users(user_ids=[user.pk])[user.pk]


def webhook_list(*, user: User) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(user=user).order_by("created_at", "id")


def webhook_get(*, user: User, webhook_id: object, for_update: bool = False) -> WebhookEndpoint:
    """One of the user's own endpoints; someone else's is as unknown as a missing one."""
    qs = WebhookEndpoint.objects.filter(user=user)
    try:
        return lock_one(qs, pk=webhook_id) if for_update else qs.get(pk=webhook_id)
    except (WebhookEndpoint.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound("Webhook not found.") from exc


def delivery_list(
    *,
    user: User,
    channel: str | None = None,
    status: str | None = None,
    webhook: WebhookEndpoint | None = None,
) -> QuerySet[Delivery]:
    """The user's delivery log, newest first."""
    qs = Delivery.objects.filter(user=user)
    if channel:
        qs = qs.filter(channel=channel)
    if status:
        qs = qs.filter(status=status)
    if webhook is not None:
        qs = qs.filter(endpoint=webhook)
    return qs.order_by("-created_at", "-id")
