from django.contrib import admin

from accounts.admin import OmsAdminAccess
from notifications.models import Delivery, Notification, WebhookEndpoint


@admin.register(Notification)
class NotificationAdmin(OmsAdminAccess, admin.ModelAdmin):
    """Read-only for OMS admins: notifications are written by `notifications.services.notify`."""

    list_display = ("created_at", "user", "account", "kind", "level", "title", "read_at")
    list_filter = ("level", "kind", ("read_at", admin.EmptyFieldListFilter))
    search_fields = ("title", "body", "kind", "user__username")
    date_hierarchy = "created_at"
    list_select_related = ("user", "account")
    readonly_fields = (
        "id",
        "user",
        "account",
        "kind",
        "level",
        "title",
        "body",
        "data",
        "created_at",
        "read_at",
    )

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class _ReadOnly(OmsAdminAccess, admin.ModelAdmin):
    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(_ReadOnly):
    """The delivery log: what went out by email, webhook and chat, and what failed."""

    list_display = ("created_at", "user", "channel", "event", "status", "attempts", "sent_at")
    list_filter = ("channel", "status", "event")
    search_fields = ("key", "user__username", "last_error")
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    readonly_fields = (
        "id",
        "key",
        "user",
        "notification",
        "endpoint",
        "channel",
        "event",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "next_attempt_at",
        "sent_at",
    )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(_ReadOnly):
    """Users manage their own endpoints; the back office sees them (never the secret) and
    may delete one."""

    list_display = ("url", "user", "is_active", "failing_since", "disabled_at", "created_at")
    list_filter = ("is_active",)
    search_fields = ("url", "user__username")
    exclude = ("secret_encrypted",)
    readonly_fields = (
        "id",
        "user",
        "url",
        "events",
        "is_active",
        "failing_since",
        "disabled_at",
        "created_at",
    )
