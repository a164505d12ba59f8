"""The REST shape of a notification (also the `data` of `notification.created` pushes)."""

from __future__ import annotations

from rest_framework import serializers

from notifications.models import Notification
from oms_site.api import UtcDateTimeField, WholeNumberField


class NotificationSerializer(serializers.ModelSerializer):
    event = serializers.CharField(
        source="kind", read_only=True, help_text="The event name (API.md), e.g. order.filled."
    )
    account = serializers.UUIDField(source="account_id", read_only=True, allow_null=True)
    account_name = serializers.SerializerMethodField()
    read = serializers.SerializerMethodField()
    created_at = UtcDateTimeField(read_only=True)
    read_at = UtcDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "event",
            "account",
            "account_name",
            "kind",
            "level",
            "title",
            "body",
            "data",
            "read",
            "created_at",
            "read_at",
        ]
        read_only_fields = fields

    def get_account_name(self, obj: Notification) -> str | None:
        return obj.account.name if obj.account_id else None

    def get_read(self, obj: Notification) -> bool:
        return obj.is_read


class ReadAllResultSerializer(serializers.Serializer):
    updated = serializers.IntegerField()
    unread = serializers.IntegerField()


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField()


class StreamPushSerializer(serializers.Serializer):
    """One push as it went out on /ws/stream/, with its per-user number."""

    seq = serializers.IntegerField(help_text="Increasing per user across all their pushes.")
    channel = serializers.CharField(
        help_text="orders, positions, fills, accounts, gtt, signals or notifications."
    )
    account = serializers.CharField(
        allow_null=True, help_text="The account it is about (null: a notification)."
    )
    event = serializers.CharField(help_text="e.g. order.updated")
    data = serializers.DictField(help_text="As pushed: the REST object.")
    at = UtcDateTimeField(help_text="When it was pushed.")


class StreamMissedQuerySerializer(serializers.Serializer):
    after = WholeNumberField(
        min_value=0, help_text="The last seq the client received (0: from the oldest kept)."
    )
    limit = WholeNumberField(
        min_value=1, required=False, default=100, help_text="Page size (default 100, at most 1000)."
    )


class StreamMissedSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True, help_text="The next page (after its last seq).")
    previous = serializers.URLField(allow_null=True, help_text="Always null: pages follow `after`.")
    results = StreamPushSerializer(many=True)
    last_seq = serializers.IntegerField(help_text="The highest seq given to this user so far.")
    complete = serializers.BooleanField(
        help_text=(
            "False when the log no longer holds every push after `after` (older than the "
            "retention window, beyond its size, or an unknown seq): re-read state over REST."
        )
    )
