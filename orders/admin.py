"""Back office: orders are read-only (every change goes through the services); the one
action is a cancel, through `order_cancel`, recorded in the audit trail as the admin."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from oms_site.errors import ApplicationError
from orders.lifecycle import actor_for
from orders.models import IdempotencyRecord, Order, OrderEvent, Trigger
from orders.services import order_cancel
from pnl.selectors import fill_list_for_order


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ("seq", "type", "at", "actor", "data")
    readonly_fields = fields
    ordering = ("seq",)
    verbose_name = "audit event"
    verbose_name_plural = "Audit trail"


class TriggerInline(ReadOnlyInline):
    model = Trigger
    fields = ("kind", "direction", "price", "mark", "status", "fired_at", "fired_price")
    readonly_fields = fields


@admin.action(description="Cancel selected orders (through the order service)")
def cancel_orders(modeladmin, request, queryset) -> None:
    actor = actor_for(user=request.user)
    done, failed = 0, []
    for order_id in queryset.values_list("id", flat=True):
        try:
            order_cancel(user=None, actor=actor, order_id=order_id, reason="admin")
        except ApplicationError as exc:
            failed.append(f"{order_id}: {exc.message}")
        else:
            done += 1
    if done:
        modeladmin.message_user(request, f"Cancel sent for {done} order(s).", messages.SUCCESS)
    for line in failed:
        modeladmin.message_user(request, line, messages.WARNING)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "account",
        "symbol",
        "side",
        "type",
        "qty",
        "filled_qty",
        "avg_fill_price",
        "limit_price",
        "stop_price",
        "status",
    )
    list_filter = ("status", "side", "type", "time_in_force", "product")
    search_fields = ("id", "symbol", "client_order_id", "account__name", "tag")
    date_hierarchy = "created_at"
    list_select_related = ("account",)
    actions = [cancel_orders]
    inlines = [OrderEventInline, TriggerInline]
    readonly_fields = [
        field.name for field in Order._meta.fields if field.name not in ("request_hash",)
    ] + ["fills"]
    exclude = ("request_hash",)

    @admin.display(description="Fills")
    def fills(self, obj: Order) -> str:
        rows = fill_list_for_order(order_id=obj.pk)
        if not rows:
            return "—"
        return format_html(
            "<table><tr><th>Time</th><th>Qty</th><th>Price</th><th>Fee</th>"
            "<th>Liquidity</th><th>Report</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((f.ts, f.qty, f.price, f.fee, f.liquidity or "—", f.report_id) for f in rows),
            ),
        )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a read-only view page; the cancel action needs only view rights

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "key", "path", "status_code")
    search_fields = ("key", "user__username")
    readonly_fields = (
        "user",
        "key",
        "path",
        "request_hash",
        "status_code",
        "response_body",
        "created_at",
    )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
