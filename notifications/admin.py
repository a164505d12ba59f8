from django.contrib import admin

from accounts.admin import OmsAdminAccess
from notifications.models import Notification


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
