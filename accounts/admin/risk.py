"""Risk limits and both kill switches; every change goes through risk_services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet

from accounts import risk_services
from accounts.admin.base import (
    AuditedAdmin,
    adopt_created,
    form_diff,
    service_errors_to_form,
)
from accounts.forms import SymbolListField
from accounts.models import (
    GlobalKillSwitch,
    RiskLimits,
)
from accounts.risk_services import RISK_LIMIT_FIELDS
from oms_site.errors import ValidationFailed


# --- Risk limits and kill switches ------------------------------------------------------
class RiskLimitsAdminForm(forms.ModelForm):
    allowed_symbols = SymbolListField()

    class Meta:
        model = RiskLimits
        fields = list(RISK_LIMIT_FIELDS)
        help_texts = {
            "max_order_value": "Per order, in the account's currency. Empty: no limit.",
            "max_order_qty": "Per order. Empty: no limit.",
            "max_open_orders": "Empty: no limit.",
            "max_orders_per_day": "Empty: no limit.",
            "max_orders_per_minute": "Per-account order rate. Empty: no limit.",
            "max_daily_loss": "Realized loss today; new orders stop there. Empty: no limit.",
            "price_band_pct": (
                "Max distance (%) of a limit price from the last price. "
                "Empty: the instrument's band, if it has one."
            ),
        }

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                risk_services.risk_limits_clean(
                    {field: cleaned.get(field) for field in RISK_LIMIT_FIELDS}
                )
            except ValidationFailed as exc:
                service_errors_to_form(self, exc)
        return cleaned


@admin.register(RiskLimits)
class RiskLimitsAdmin(AuditedAdmin):
    form = RiskLimitsAdminForm
    list_display = [
        "account",
        "kill_switch",
        "allow_short",
        "max_order_value",
        "max_order_qty",
        "max_open_orders",
        "max_orders_per_day",
        "max_orders_per_minute",
        "max_daily_loss",
        "price_band_pct",
        "symbols",
        "updated_at",
    ]
    list_filter = ["kill_switch", "allow_short"]
    search_fields = ["account__name"]
    actions = ["engage_kill_switch", "release_kill_switch"]

    @admin.display(description="Allowed symbols")
    def symbols(self, obj: RiskLimits) -> str:
        return ", ".join(obj.allowed_symbols) if obj.allowed_symbols is not None else "any"

    def has_add_permission(self, request):
        return False  # every account gets its row when it is opened

    def has_delete_permission(self, request, obj=None):
        return False  # a null limit means "no limit": edit instead of deleting

    def save_model(self, request, obj, form, change):
        obj._oms_audit_diff = form_diff(form)
        changes = {field: form.cleaned_data[field] for field in form.changed_data}
        limits = risk_services.risk_limits_update(
            actor=request.user, account=obj.account, changes=changes
        )
        adopt_created(obj, limits)

    @admin.action(description="Engage kill switch (stop new orders)", permissions=["change"])
    def engage_kill_switch(self, request, queryset: QuerySet[RiskLimits]):
        self._run_per_object(
            request,
            queryset.select_related("account"),
            "Kill switch engaged",
            lambda limits: risk_services.account_kill_switch_set(
                actor=request.user, account=limits.account, engaged=True
            ),
        )

    @admin.action(description="Release kill switch", permissions=["change"])
    def release_kill_switch(self, request, queryset: QuerySet[RiskLimits]):
        self._run_per_object(
            request,
            queryset.select_related("account"),
            "Kill switch released",
            lambda limits: risk_services.account_kill_switch_set(
                actor=request.user, account=limits.account, engaged=False
            ),
        )


@admin.register(GlobalKillSwitch)
class GlobalKillSwitchAdmin(AuditedAdmin):
    list_display = ["__str__", "engaged", "reason", "changed_at", "changed_by"]
    fields = ["engaged", "reason", "changed_at", "changed_by"]
    readonly_fields = ["changed_at", "changed_by"]
    actions = ["engage", "release"]

    def changelist_view(self, request, extra_context=None):
        GlobalKillSwitch.load()  # the one row always exists to be engaged
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj._oms_audit_diff = form_diff(form)
        switch = risk_services.global_kill_switch_set(
            actor=request.user, engaged=obj.engaged, reason=obj.reason
        )
        adopt_created(obj, switch)

    @admin.action(description="Engage: stop all new orders", permissions=["change"])
    def engage(self, request, queryset):
        risk_services.global_kill_switch_set(
            actor=request.user, engaged=True, reason="engaged from the back office"
        )
        self.message_user(request, "Global kill switch engaged.", messages.WARNING)

    @admin.action(description="Release: accept new orders again", permissions=["change"])
    def release(self, request, queryset):
        risk_services.global_kill_switch_set(actor=request.user, engaged=False, reason="")
        self.message_user(request, "Global kill switch released.", messages.SUCCESS)
