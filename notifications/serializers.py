"""The REST shape of a notification (also the `data` of `notification.created` pushes)."""

from __future__ import annotations

from rest_framework import serializers

from notifications.models import Notification
from oms_site.api import UtcDateTimeField


class NotificationSerializer(serializers.ModelSerializer):
    account = serializers.UUIDField(source="account_id", read_only=True, allow_null=True)
    account_name = serializers.SerializerMethodField()
    read = serializers.SerializerMethodField()
    created_at = UtcDateTimeField(read_only=True)
    read_at = UtcDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Notification
        fields = [
            "id",
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
