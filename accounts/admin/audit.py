"""API keys (revoke only) and the read-only audit log."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet

from accounts import services
from accounts.admin.base import (
    AuditedAdmin,
    OmsAdminAccess,
)
from accounts.models import (
    ApiKey,
    AuditLogEntry,
)


# --- API keys and the audit log -----------------------------------------------------------
class ApiKeyStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Not revoked"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(AuditedAdmin):
    list_display = [
        "prefix",
        "name",
        "user",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "usable",
    ]
    list_filter = [ApiKeyStateFilter, "created_at"]
    search_fields = ["prefix", "name", "user__username"]
    fields = [
        "id",
        "user",
        "name",
        "prefix",
        "scopes",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    readonly_fields = fields
    actions = ["revoke_keys"]

    @admin.display(boolean=True, description="Usable")
    def usable(self, obj: ApiKey) -> bool:
        return obj.is_usable()

    def has_add_permission(self, request):
        return False  # keys are issued by their owner (page, API) or `manage.py issue_api_key`

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row stays for the audit trail

    def has_revoke_permission(self, request) -> bool:
        return self._allowed(request)

    @admin.action(description="Revoke selected keys", permissions=["revoke"])
    def revoke_keys(self, request, queryset: QuerySet[ApiKey]):
        self._run_per_object(
            request,
            queryset,
            "Revoked",
            lambda key: services.api_key_revoke(api_key=key, actor=request.user),
        )


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(OmsAdminAccess, admin.ModelAdmin):
    list_display = ["at", "actor", "action", "object_type", "object_repr"]
    list_filter = ["at", "action", "object_type"]
    search_fields = ["action", "object_id", "object_repr", "actor__username"]
    fields = ["at", "actor", "action", "object_type", "object_id", "object_repr", "data"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
