"""Notifications beyond the bell: sending the deliveries a notification made (Celery tasks on
the `notifications` queue, after commit; which deliveries it makes: delivery_plan.py).

No storm: email and chat of one user are gathered for OMS_NOTIFY_BATCH_WINDOW_S and go out
as one message (a digest when several); partial fills of one order update one notification
(notify(coalesce=...)), so they make no new deliveries. Webhooks carry every event on its own.
No loss: each delivery is a row with an idempotency `key` (notification × channel ×
endpoint, the webhook `id`); a task that died mid-send is sent again by the sweeper with
the same key, which receivers (and mail clients, via Message-ID) use to drop the repeat.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.crypto import decrypt_credentials
from notifications.channels import (
    BACKENDS,
    Item,
    Message,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from notifications.delivery_plan import FLUSH_LOCK, deliveries_enqueue
from notifications.models import (
    Delivery,
    DeliveryChannel,
    DeliveryStatus,
    WebhookEndpoint,
)
from notifications.preferences import preferences_for_users

logger = logging.getLogger(__name__)

# Retries are due times (`next_attempt_at`) picked up by the sweeper beat job, not Celery
# countdowns: a Redis broker redelivers a task held past its visibility timeout, which would
# send a long-delayed retry twice.
RETRY_FIRST_S = 30  # API.md: the first retry within a minute
RETRY_CAP_S = 4 * 3600
# 30 s doubling to 4 h: the 16th attempt comes about a day after the first.
MAX_ATTEMPTS = 16
CLAIM_MAX = 500  # deliveries one email/chat flush takes at once (the rest: the next flush)


def retry_delay(attempts: int) -> int:
    """Seconds before attempt `attempts + 1` (attempts ≥ 1 made so far)."""
    return min(RETRY_FIRST_S * 2 ** (attempts - 1), RETRY_CAP_S)


def _item(delivery: Delivery) -> Item:
    notification = delivery.notification
    if notification is None:  # a webhook test ping
        return Item(
            key=delivery.key,
            event=delivery.event,
            title="Test delivery",
            body="A test from OMS.",
            data={"test": True},
            created_at=delivery.created_at.isoformat().replace("+00:00", "Z"),
        )
    return Item(
        key=delivery.key,
        event=notification.kind,
        title=notification.title,
        body=notification.body,
        data=notification.data,
        created_at=notification.created_at.isoformat().replace("+00:00", "Z"),
        account_name=notification.account.name if notification.account_id else None,
    )


@dataclass(frozen=True)
class Outcome:
    status: str
    retry_in: int | None = None


def _record_failure(ids: list[object], *, error: str, attempts: int, give_up: bool) -> Outcome:
    now = timezone.now()
    if give_up:
        Delivery.objects.filter(pk__in=ids).update(
            status=DeliveryStatus.FAILED, last_error=error[:2000], next_attempt_at=None
        )
        return Outcome(DeliveryStatus.FAILED)
    delay = retry_delay(attempts)
    Delivery.objects.filter(pk__in=ids).update(
        last_error=error[:2000], next_attempt_at=now + timedelta(seconds=delay)
    )
    return Outcome(DeliveryStatus.PENDING, retry_in=delay)


def _mark_sent(ids: list[object]) -> Outcome:
    Delivery.objects.filter(pk__in=ids).update(
        status=DeliveryStatus.SENT, sent_at=timezone.now(), last_error="", next_attempt_at=None
    )
    return Outcome(DeliveryStatus.SENT)


def _lease_s() -> float:
    return settings.OMS_WEBHOOK_TIMEOUT_S + 30


def _claim(
    *, ids: list[object] | None = None, among=None, related: tuple[str, ...] = ()
) -> list[Delivery]:
    """Take the due pending deliveries (`ids`, or the first CLAIM_MAX of the queryset
    `among`) for this worker: count an attempt and lease them until now + the send timeout
    (the sweeper leaves them alone meanwhile and picks them up again if this worker dies
    mid-send). A compare-and-set on the lease by primary key: rows are locked one by one,
    never a range (a range lock deadlocks with fills inserting new deliveries), and of two
    workers only one gets each row."""
    now = timezone.now()
    due = Q(status=DeliveryStatus.PENDING) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    if ids is None:
        ids = list(among.filter(due).values_list("pk", flat=True)[:CLAIM_MAX])
        if not ids:
            return []
    lease_until = now + timedelta(seconds=_lease_s())
    taken = Delivery.objects.filter(due, pk__in=ids).update(
        attempts=F("attempts") + 1, next_attempt_at=lease_until
    )
    if not taken:
        return []
    return list(
        Delivery.objects.filter(pk__in=ids, next_attempt_at=lease_until)
        .select_related(*related)
        .order_by("created_at", "id")
    )


def webhook_delivery_send(*, delivery_id: object) -> Outcome:
    """Send one webhook delivery; decide retry / give up; disable an endpoint failing
    for OMS_WEBHOOK_DISABLE_AFTER_S and tell its owner. Three queries when all is well."""
    rows = _claim(ids=[delivery_id], related=("endpoint", "notification__account"))
    if not rows:
        return Outcome("skipped")  # sent, given up, or leased by another worker
    delivery = rows[0]
    endpoint = delivery.endpoint
    if endpoint is None or not endpoint.is_active:
        return _record_failure([delivery.pk], error="Endpoint disabled.", attempts=0, give_up=True)
    secret = decrypt_credentials(endpoint.secret_encrypted)["secret"]
    message = Message(items=[_item(delivery)], url=endpoint.url, secret=secret)
    try:
        BACKENDS[DeliveryChannel.WEBHOOK].send(message)
    except PermanentDeliveryError as exc:
        return _record_failure(
            [delivery.pk], error=str(exc), attempts=delivery.attempts, give_up=True
        )
    except TransientDeliveryError as exc:
        now = timezone.now()
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
            failing_since=now
        )
        endpoint.refresh_from_db(fields=["failing_since"])
        failing_for = (now - endpoint.failing_since).total_seconds()
        if failing_for >= settings.OMS_WEBHOOK_DISABLE_AFTER_S:
            _endpoint_disable(endpoint=endpoint, error=str(exc))
            return _record_failure([delivery.pk], error=str(exc), attempts=0, give_up=True)
        give_up = delivery.attempts >= MAX_ATTEMPTS
        return _record_failure(
            [delivery.pk], error=str(exc), attempts=delivery.attempts, give_up=give_up
        )
    if endpoint.failing_since is not None:  # it answers again
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
    return _mark_sent([delivery.pk])


def _endpoint_disable(*, endpoint: WebhookEndpoint, error: str) -> None:
    from notifications.services import notify

    with transaction.atomic():
        updated = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
            is_active=False, disabled_at=timezone.now()
        )
        if updated:
            notify(
                user=endpoint.user,
                kind="webhook.disabled",
                title=f"Webhook disabled: {endpoint.url}",
                body=(
                    "It kept failing for a day, so OMS stopped sending to it. "
                    f"Last error: {error[:300]}. Create it again once it answers."
                ),
                data={"webhook": str(endpoint.pk), "url": endpoint.url},
                level="error",
            )


def user_channel_flush(*, user_id: object, channel: str) -> Outcome:
    """Send every pending email (or chat) delivery of one user as one message."""
    cache.delete(FLUSH_LOCK.format(user=user_id, channel=channel))
    deliveries = _claim(
        among=Delivery.objects.filter(user_id=user_id, channel=channel),
        related=("notification__account", "user"),
    )
    if not deliveries:
        return Outcome("skipped")
    ids = [row.pk for row in deliveries]
    user = deliveries[0].user
    prefs = preferences_for_users(user_ids=[user.pk])[user.pk]
    message = Message(
        items=[_item(d) for d in deliveries],
        email=prefs.email or user.email,
        chat_urls=prefs.chat_urls,
    )
    attempts = max(row.attempts for row in deliveries)
    try:
        BACKENDS[channel].send(message)
    except PermanentDeliveryError as exc:
        return _record_failure(ids, error=str(exc), attempts=attempts, give_up=True)
    except TransientDeliveryError as exc:
        return _record_failure(
            ids, error=str(exc), attempts=attempts, give_up=attempts >= MAX_ATTEMPTS
        )
    return _mark_sent(ids)


def deliveries_sweep(*, lost_after_s: float = 60) -> int:
    """Enqueue the pending deliveries that are due: retries whose backoff has passed, and
    deliveries whose task was lost (broker down at enqueue time, a worker killed mid-send:
    its lease ran out). Runs every few seconds from beat; returns how many."""
    now = timezone.now()
    pending = list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING)
        .filter(
            Q(next_attempt_at__lte=now)
            | Q(next_attempt_at__isnull=True, created_at__lt=now - timedelta(seconds=lost_after_s))
        )
        .order_by("next_attempt_at", "created_at")[:5000]
    )
    deliveries_enqueue(deliveries=pending)
    return len(pending)
