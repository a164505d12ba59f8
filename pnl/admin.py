"""Back office for pnl: everything is read-only (positions, lots and matches are derived
from fills by the services; `manage.py rebuild_positions` repairs them). The one write is
resolving a reconciliation alert, through `reconciliation_alert_resolve` (audited)."""

from __future__ import annotations

from django.contrib import admin

from accounts.admin import AuditedAdmin, OmsAdminAccess
from pnl.models import DailyPnl, Fill, Lot, Position, RealizedMatch, ReconciliationAlert
from pnl.services import reconciliation_alert_resolve


class ReadOnlyAdmin(OmsAdminAccess, admin.ModelAdmin):
    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


@admin.register(Fill)
class FillAdmin(ReadOnlyAdmin):
    list_display = ("ts", "account", "symbol", "side", "qty", "price", "fee", "liquidity", "tag")
    list_filter = ("side", "liquidity")
    search_fields = ("id", "order_id", "report_id", "trade_id", "symbol", "account__name", "tag")
    date_hierarchy = "ts"
    list_select_related = ("account",)


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = (
        "account",
        "symbol",
        "qty",
        "avg_entry_price",
        "realized",
        "fees",
        "cash_flow",
        "fill_count",
        "last_fill_at",
    )
    search_fields = ("symbol", "account__name")
    list_select_related = ("account",)


@admin.register(Lot)
class LotAdmin(ReadOnlyAdmin):
    list_display = (
        "position",
        "account",
        "side",
        "original_qty",
        "remaining_qty",
        "price",
        "opened_seq",
        "opened_at",
    )
    list_filter = ("side",)
    search_fields = ("position__symbol", "account__name", "opened_by__id")
    list_select_related = ("position", "account")


@admin.register(RealizedMatch)
class RealizedMatchAdmin(ReadOnlyAdmin):
    list_display = (
        "ts",
        "account",
        "symbol",
        "lot_side",
        "qty",
        "entry_price",
        "exit_price",
        "amount",
        "entry_fill",
        "exit_fill",
    )
    list_filter = ("lot_side",)
    search_fields = ("symbol", "account__name", "entry_fill__id", "exit_fill__id")
    date_hierarchy = "ts"
    list_select_related = ("account", "entry_fill", "exit_fill")


@admin.register(DailyPnl)
class DailyPnlAdmin(ReadOnlyAdmin):
    list_display = (
        "date",
        "account",
        "symbol",
        "qty",
        "mark_price",
        "realized",
        "unrealized",
        "fees",
        "net",
    )
    list_filter = ("date",)
    search_fields = ("symbol", "account__name")
    date_hierarchy = "date"
    list_select_related = ("account",)


@admin.action(description="Resolve selected alerts (after checking both sides)")
def resolve_alerts(modeladmin, request, queryset) -> None:
    modeladmin._run_per_object(
        request,
        queryset,
        "Resolved",
        lambda alert: reconciliation_alert_resolve(
            alert_id=alert.pk, actor=request.user, note=f"Resolved by {request.user.username}."
        ),
    )


@admin.register(ReconciliationAlert)
class ReconciliationAlertAdmin(AuditedAdmin):
    list_display = (
        "created_at",
        "account",
        "kind",
        "symbol",
        "ours",
        "theirs",
        "detail",
        "status",
        "last_seen_at",
    )
    list_filter = ("status", "kind")
    search_fields = ("symbol", "account__name")
    list_select_related = ("account",)
    actions = [resolve_alerts]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the resolve action needs view rights only

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self._allowed(request):
            return {}
        return actions
