"""REST shapes of preferences, webhook endpoints and the delivery log (API.md § Notifications)."""

from __future__ import annotations

from rest_framework import serializers

from notifications.models import (
    Delivery,
    DeliveryChannel,
    DeliveryStatus,
    NotificationEvent,
    WebhookEndpoint,
)
from notifications.preferences import EVENTS, MAX_CHAT_URLS
from oms_site.api import StrictFieldsMixin, UtcDateTimeField


def _channel_list() -> serializers.ListField:
    # No length limit: a channel named twice counts once (preferences._clean_channels).
    return serializers.ListField(
        child=serializers.ChoiceField(choices=DeliveryChannel.choices), required=False
    )


class ChannelsSerializer(StrictFieldsMixin, serializers.Serializer):
    """event → the channels it goes to (an event left out keeps its current choice)."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {event: _channel_list() for event in EVENTS}


class QuietHoursSerializer(StrictFieldsMixin, serializers.Serializer):
    start = serializers.RegexField(r"^([01]\d|2[0-3]):[0-5]\d$", help_text="HH:MM, 24-hour")
    end = serializers.RegexField(r"^([01]\d|2[0-3]):[0-5]\d$", help_text="HH:MM, 24-hour")
    timezone = serializers.CharField(
        required=False, default="UTC", help_text="IANA name, e.g. Europe/Berlin (default UTC)"
    )


class NotificationPreferencesSerializer(StrictFieldsMixin, serializers.Serializer):
    """GET answer and PUT body. Email and chat are held back during quiet hours (in-app is
    still recorded, webhooks still sent)."""

    channels = ChannelsSerializer(
        required=False,
        help_text=(
            "event → channels (in_app, email, webhook, chat). Defaults: in_app for every "
            "event; email too for order.rejected, gtt.rejected, risk.limit_hit, "
            "kill_switch.changed, broker.status_changed."
        ),
    )
    quiet_hours = QuietHoursSerializer(required=False, allow_null=True)
    email = serializers.EmailField(
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="Empty (or null): the user's own address.",
    )
    chat_urls = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        max_length=MAX_CHAT_URLS,
        help_text="apprise URLs, e.g. tgram://bottoken/ChatID, slack://..., discord://...",
    )


class WebhookSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=NotificationEvent.choices),
        help_text="Empty: every event.",
    )
    created_at = UtcDateTimeField(read_only=True)
    failing_since = UtcDateTimeField(read_only=True, allow_null=True)
    disabled_at = UtcDateTimeField(
        read_only=True, allow_null=True, help_text="Set when it failed for a day and was disabled."
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "is_active", "failing_since", "disabled_at", "created_at"]
        read_only_fields = fields


class WebhookWithSecretSerializer(WebhookSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text=(
            "Signs each delivery (X-OMS-Signature). Shown once: not in a replay of the same "
            "Idempotency-Key; rotate it if lost."
        ),
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookInputSerializer(StrictFieldsMixin, serializers.Serializer):
    url = serializers.URLField(max_length=500, help_text="http(s); private addresses refused")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=NotificationEvent.choices),
        required=False,
        default=list,
        help_text="The events it receives (empty or left out: every event).",
    )


class DeliverySerializer(serializers.ModelSerializer):
    key = serializers.CharField(
        read_only=True, help_text="Idempotency key; a webhook's body carries it as `id`."
    )
    notification = serializers.UUIDField(source="notification_id", read_only=True, allow_null=True)
    webhook = serializers.UUIDField(source="endpoint_id", read_only=True, allow_null=True)
    channel = serializers.ChoiceField(choices=DeliveryChannel.choices, read_only=True)
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, read_only=True)
    created_at = UtcDateTimeField(read_only=True)
    next_attempt_at = UtcDateTimeField(read_only=True, allow_null=True)
    sent_at = UtcDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "key",
            "notification",
            "webhook",
            "channel",
            "event",
            "status",
            "attempts",
            "last_error",
            "created_at",
            "next_attempt_at",
            "sent_at",
        ]
        read_only_fields = fields
