"""Writes for what a user sets up to be told: preferences and webhook endpoints."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.crypto import encrypt_credentials
from accounts.models import User
from notifications.delivery_plan import deliveries_enqueue
from notifications.models import (
    Delivery,
    DeliveryChannel,
    NotificationPreference,
    WebhookEndpoint,
)
from notifications.preferences import EVENTS, preferences_clean
from notifications.selectors_delivery import webhook_get
from notifications.webhooks import secret_new, webhook_url_check
from oms_site.errors import ValidationFailed
from oms_site.locks import locking

MAX_WEBHOOKS_PER_USER = 20
TEST_EVENT = "webhook.test"


@transaction.atomic
def preferences_update(*, user: User, data: Any) -> NotificationPreference:
    """PUT /notification-preferences: validate everything first (400 names each bad field,
    nothing stored), then store; keys left out keep their value."""
    cleaned = preferences_clean(data)
    row, _ = locking(NotificationPreference.objects.all()).get_or_create(user=user)
    if "channels" in cleaned:
        row.channels = {**row.channels, **cleaned["channels"]}
    for name in ("quiet_hours", "email", "chat_urls"):
        if name in cleaned:
            setattr(row, name, cleaned[name])
    row.updated_at = timezone.now()
    row.save()
    return row


@dataclass(frozen=True)
class IssuedWebhook:
    endpoint: WebhookEndpoint
    secret: str  # shown once


def _clean_events(events: Iterable[str]) -> list[str]:
    chosen = list(events)
    unknown = [event for event in chosen if event not in EVENTS]
    if unknown:
        raise ValidationFailed(
            f"Unknown event {unknown[0]!r}.",
            fields={"events": [f"Each one of: {', '.join(EVENTS)}."]},
        )
    return [event for event in EVENTS if event in chosen]


@transaction.atomic
def webhook_create(*, user: User, url: str, events: Iterable[str] = ()) -> IssuedWebhook:
    webhook_url_check(url)
    if WebhookEndpoint.objects.filter(user=user).count() >= MAX_WEBHOOKS_PER_USER:
        raise ValidationFailed(
            f"At most {MAX_WEBHOOKS_PER_USER} webhooks per user.",
            fields={"url": ["Delete one first."]},
        )
    secret = secret_new()
    endpoint = WebhookEndpoint.objects.create(
        user=user,
        url=url,
        events=_clean_events(events),
        secret_encrypted=encrypt_credentials({"secret": secret}),
    )
    return IssuedWebhook(endpoint=endpoint, secret=secret)


@transaction.atomic
def webhook_delete(*, user: User, webhook_id: object) -> None:
    webhook_get(user=user, webhook_id=webhook_id).delete()


@transaction.atomic
def webhook_rotate_secret(*, user: User, webhook_id: object) -> IssuedWebhook:
    """A new secret, shown once; the old one signs nothing from now on."""
    endpoint = webhook_get(user=user, webhook_id=webhook_id, for_update=True)
    secret = secret_new()
    endpoint.secret_encrypted = encrypt_credentials({"secret": secret})
    endpoint.save(update_fields=["secret_encrypted"])
    return IssuedWebhook(endpoint=endpoint, secret=secret)


@transaction.atomic
def webhook_test(*, user: User, webhook_id: object) -> Delivery:
    """Send a signed `webhook.test` event now (after commit); also re-enables an endpoint
    that was disabled for failing, so its owner can check it answers again."""
    endpoint = webhook_get(user=user, webhook_id=webhook_id, for_update=True)
    if not endpoint.is_active:
        endpoint.is_active = True
        endpoint.disabled_at = None
        endpoint.failing_since = None
        endpoint.save(update_fields=["is_active", "disabled_at", "failing_since"])
    delivery = Delivery.objects.create(
        key=f"test:{uuid.uuid4()}",
        user=user,
        endpoint=endpoint,
        channel=DeliveryChannel.WEBHOOK,
        event=TEST_EVENT,
    )
    deliveries_enqueue(deliveries=[delivery])
    return delivery
