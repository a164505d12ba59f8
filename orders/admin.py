"""Back office: orders are read-only (every change goes through the services); the one
action is a cancel, through `order_cancel`, recorded in the audit trail as the admin."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from oms_site.errors import ApplicationError
from orders.automation.gtt import gtt_disable
from orders.automation.scheduled import (
    clean_schedule,
    clean_template,
    scheduled_order_delete,
    scheduled_order_sync,
)
from orders.core import risk
from orders.core.lifecycle import actor_for
from orders.models import (
    Gtt,
    GttEvent,
    Order,
    OrderEvent,
    ScheduledOrder,
    Trigger,
)
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
    fk_name = "order"
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
        "order_class",
        "leg_role",
        "algo_state",
    )
    list_filter = (
        "status",
        "side",
        "type",
        "time_in_force",
        "product",
        "order_class",
        "algo_state",
        "external",
    )
    search_fields = ("id", "symbol", "client_order_id", "account__name", "tag", "broker_order_id")
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


# --- automation -------------------------------------------------------------------------------


class GttEventInline(ReadOnlyInline):
    model = GttEvent
    fields = ("seq", "type", "at", "actor", "data")
    readonly_fields = fields
    ordering = ("seq",)
    verbose_name = "event"
    verbose_name_plural = "Status history"


class GttTriggerInline(ReadOnlyInline):
    model = Trigger
    fk_name = "gtt"
    fields = ("leg", "direction", "price", "status", "fired_at", "fired_price")
    readonly_fields = fields


@admin.action(description="Disable selected active GTTs")
def disable_gtts(modeladmin, request, queryset) -> None:
    actor = actor_for(user=request.user)
    done = 0
    for gtt_id in queryset.filter(status="active").values_list("id", flat=True):
        try:
            gtt_disable(actor=actor, gtt_id=gtt_id)
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{gtt_id}: {exc.message}", messages.WARNING)
        else:
            done += 1
    modeladmin.message_user(request, f"Disabled {done} GTT(s).", messages.SUCCESS)


@admin.register(Gtt)
class GttAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "account",
        "symbol",
        "trigger_type",
        "trigger_values",
        "status",
        "expires_at",
    )
    list_filter = ("status", "trigger_type")
    search_fields = ("id", "symbol", "account__name", "tag")
    list_select_related = ("account",)
    actions = [disable_gtts]
    inlines = [GttTriggerInline, GttEventInline]
    readonly_fields = [field.name for field in Gtt._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ScheduledOrderAdminForm(forms.ModelForm):
    """The same checks as the API: the order template and the timing."""

    class Meta:
        model = ScheduledOrder
        fields = ("name", "account", "order", "kind", "run_at", "cron", "tz", "enabled")

    def clean(self):
        data = super().clean()
        errors = risk.FieldErrors()
        template = clean_template(errors, data.get("order"))
        if data.get("kind") == "cron":
            data["run_at"] = None
        else:
            data["cron"] = ""
        clean_schedule(
            errors,
            data.get("kind"),
            data.get("run_at"),
            data.get("cron") or "",
            data.get("tz") or "UTC",
        )
        for name, messages_ in errors.fields.items():
            field = name.split(".")[0]
            self.add_error(field if field in self.fields else None, f"{name}: {messages_[0]}")
        if template:
            data["order"] = template
        return data


@admin.register(ScheduledOrder)
class ScheduledOrderAdmin(admin.ModelAdmin):
    """Editable: saving (or deleting) keeps the row's beat task (PeriodicTask) in step."""

    form = ScheduledOrderAdminForm

    list_display = ("name", "account", "kind", "run_at", "cron", "tz", "enabled", "last_run_at")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "account__name")
    list_select_related = ("account",)
    readonly_fields = (
        "periodic_task",
        "run_count",
        "last_run_at",
        "last_order",
        "last_error",
        "created_by",
        "created_at",
        "updated_at",
    )
    fields = (
        "name",
        "account",
        "order",
        "kind",
        "run_at",
        "cron",
        "tz",
        "enabled",
        *readonly_fields,
    )

    def save_model(self, request, obj, form, change) -> None:
        if not change and obj.created_by_id is None:
            obj.created_by = request.user
        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)
        scheduled_order_sync(schedule=obj)

    def delete_model(self, request, obj) -> None:
        scheduled_order_delete(user=None, schedule_id=obj.pk)

    def delete_queryset(self, request, queryset) -> None:
        for schedule_id in queryset.values_list("id", flat=True):
            scheduled_order_delete(user=None, schedule_id=schedule_id)
