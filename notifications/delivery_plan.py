"""Which deliveries a notification makes, planned in the event's own transaction by
`notify` (notifications/services.py), and their tasks enqueued after commit; sending them is
notifications/delivery.py (which may tell people through `notify` in turn).

No storm: email and chat of one user are gathered for OMS_NOTIFY_BATCH_WINDOW_S (one flush
per user and channel in flight, FLUSH_LOCK) and go out as one message; webhooks carry every
event on its own, one task each.
"""

from __future__ import annotations

from collections import defaultdict

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from notifications.models import (
    Delivery,
    DeliveryChannel,
    DeliveryStatus,
    Notification,
    WebhookEndpoint,
)
from notifications.preferences import QUIET_CHANNELS, Preferences, preferences_for_users
from oms_site.compiled_query import insert_new
from oms_site.task_enqueue import enqueue_after_commit, task_named

FLUSH_LOCK = "notif-flush:{user}:{channel}"


def delivery_key(notification: Notification, channel: str, endpoint_id: object = None) -> str:
    suffix = f":{endpoint_id}" if endpoint_id else ""
    return f"{notification.pk}:{channel}{suffix}"


def deliveries_plan(
    *, notifications: list[Notification], prefs: dict[object, Preferences] | None = None
) -> list[Delivery]:
    """The deliveries these new notifications make, by each recipient's preferences; stored
    now (same transaction as the event), sent after commit. In-app needs none: the row is
    the message."""
    if not notifications:
        return []
    if prefs is None:
        prefs = preferences_for_users(user_ids={n.user_id for n in notifications})
    endpoints: dict[object, list[WebhookEndpoint]] = defaultdict(list)
    wants_webhook = [
        n.user_id
        for n in notifications
        if DeliveryChannel.WEBHOOK in prefs[n.user_id].channels_for(n.kind)
    ]
    if wants_webhook:
        for endpoint in WebhookEndpoint.objects.filter(
            user_id__in=set(wants_webhook), is_active=True
        ):
            endpoints[endpoint.user_id].append(endpoint)
    now = timezone.now()
    rows: list[Delivery] = []
    for notification in notifications:
        pref = prefs[notification.user_id]
        chosen = pref.channels_for(notification.kind)
        quiet = pref.is_quiet(now)
        for channel in (DeliveryChannel.EMAIL, DeliveryChannel.CHAT):
            if channel not in chosen or (channel == DeliveryChannel.CHAT and not pref.chat_urls):
                continue
            held = quiet and channel in QUIET_CHANNELS
            rows.append(
                Delivery(
                    key=delivery_key(notification, channel),
                    user_id=notification.user_id,
                    notification=notification,
                    channel=channel,
                    event=notification.kind,
                    status=DeliveryStatus.SUPPRESSED if held else DeliveryStatus.PENDING,
                    last_error="Quiet hours." if held else "",
                    created_at=now,
                )
            )
        if DeliveryChannel.WEBHOOK in chosen:
            for endpoint in endpoints.get(notification.user_id, ()):
                if endpoint.events and notification.kind not in endpoint.events:
                    continue
                rows.append(
                    Delivery(
                        key=delivery_key(notification, DeliveryChannel.WEBHOOK, endpoint.pk),
                        user_id=notification.user_id,
                        notification=notification,
                        endpoint=endpoint,
                        channel=DeliveryChannel.WEBHOOK,
                        event=notification.kind,
                        created_at=now,
                    )
                )
    if rows:
        insert_new(rows)
        deliveries_enqueue(deliveries=[r for r in rows if r.status == DeliveryStatus.PENDING])
    return rows


def deliveries_enqueue(*, deliveries: list[Delivery]) -> None:
    """After commit: one task per webhook delivery; one flush per user and email/chat
    channel within the batch window."""
    deliver_webhook = task_named("notifications.deliver_webhook")
    flushes: set[tuple[str, str]] = set()
    for delivery in deliveries:
        if delivery.channel == DeliveryChannel.WEBHOOK:
            delivery_id = str(delivery.pk)
            enqueue_after_commit(
                lambda delivery_id=delivery_id: deliver_webhook.delay(delivery_id),
                what=f"Webhook delivery {delivery_id}",
                recovery="the delivery sweeper sends it later",
            )
        else:
            flushes.add((str(delivery.user_id), delivery.channel))
    for user_id, channel in sorted(flushes):
        enqueue_after_commit(
            lambda user_id=user_id, channel=channel: _flush_schedule(user_id, channel),
            what=f"{channel} delivery of user {user_id}",
            recovery="the delivery sweeper sends it later",
        )


def _flush_schedule(user_id: str, channel: str) -> None:
    window = settings.OMS_NOTIFY_BATCH_WINDOW_S
    # One flush per user and channel in flight: the rest of a burst rides along with it.
    if cache.add(FLUSH_LOCK.format(user=user_id, channel=channel), 1, timeout=window + 30):
        task_named("notifications.deliver_user_channel").apply_async(
            (user_id, channel), countdown=window
        )
