"""Broker connections (write-only credentials), trading accounts and memberships."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters

from accounts import broker_connections, connection_rules, risk_services, services
from accounts.admin.base import (
    AuditedAdmin,
    MembershipFormsetMixin,
    MembershipInline,
    adopt_created,
    broker_choices,
    form_diff,
    money_text,
)
from accounts.models import (
    AccountMembership,
    AccountStatus,
    BrokerConnection,
    TradingAccount,
    User,
)


# --- Broker connections -----------------------------------------------------------------
class BrokerConnectionAdminForm(forms.ModelForm):
    broker = forms.ChoiceField(choices=broker_choices)
    new_credentials = forms.CharField(
        label="Set new credentials",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"}),
        help_text="Write-only JSON object, encrypted on save. Leave empty to keep the stored "
        "credentials. Stored credentials are never shown.",
    )

    class Meta:
        model = BrokerConnection
        fields = ["name", "broker", "owner", "settings", "status", "last_error"]
        help_texts = {
            "settings": "Where OMS reaches the broker (not secret), as JSON: Alpaca "
            '{"base_url", "stream_url"}, Kite {"root", "ticker_url", "login_url"}. Left out: '
            "the broker's defaults. http(s)/ws(s) URLs only.",
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        broker = cleaned.get("broker")
        if broker:
            clean_settings, errors = connection_rules.connection_settings_errors(
                broker=broker, settings_in=cleaned.get("settings") or {}
            )
            if errors:
                self.add_error("settings", [f"{k}: {' '.join(v)}" for k, v in errors.items()])
            else:
                cleaned["settings"] = clean_settings
            credentials = cleaned.get("new_credentials")
            if credentials is not None or self.instance.pk is None:
                missing = connection_rules.connection_credentials_errors(
                    broker=broker, credentials=credentials or {}
                )
                if missing:
                    self.add_error(
                        "new_credentials", [f"{k}: {' '.join(v)}" for k, v in missing.items()]
                    )
        return cleaned

    def clean_new_credentials(self) -> dict[str, Any] | None:
        text = self.cleaned_data.get("new_credentials") or ""
        if not text.strip():
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError("Not valid JSON.") from exc
        if not isinstance(value, dict) or not value:
            raise forms.ValidationError("A non-empty JSON object is required.")
        return value


@admin.register(BrokerConnection)
class BrokerConnectionAdmin(AuditedAdmin):
    form = BrokerConnectionAdminForm
    list_display = ["name", "broker", "owner", "status", "has_credentials", "last_checked_at"]
    list_filter = ["broker", "status"]
    search_fields = ["name", "owner__username"]
    autocomplete_fields = ["owner"]
    readonly_fields = ["id", "credentials_state", "last_checked_at", "created_at"]
    fields = [
        "id",
        "name",
        "broker",
        "owner",
        "settings",
        "status",
        "last_error",
        "credentials_state",
        "new_credentials",
        "last_checked_at",
        "created_at",
    ]

    @method_decorator(sensitive_post_parameters("new_credentials"))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.display(boolean=True, description="Credentials")
    def has_credentials(self, obj: BrokerConnection) -> bool:
        return obj.has_credentials

    @admin.display(description="Stored credentials")
    def credentials_state(self, obj: BrokerConnection) -> str:
        return "stored, encrypted" if obj and obj.has_credentials else "none"

    def save_model(self, request, obj, form, change):
        credentials = form.cleaned_data.get("new_credentials")
        if not change:
            created = broker_connections.broker_connection_create(
                name=obj.name,
                broker=obj.broker,
                owner=obj.owner,
                credentials=credentials,
                settings=obj.settings,
                actor=request.user,
            )
            BrokerConnection.objects.filter(pk=created.pk).update(
                status=obj.status, last_error=obj.last_error
            )
            adopt_created(obj, created)
            obj._oms_audit_diff = {}
            return
        super().save_model(request, obj, form, change)
        if credentials:
            broker_connections.broker_connection_set_credentials(
                connection=obj, credentials=credentials, actor=request.user
            )


# --- Trading accounts -------------------------------------------------------------------
class TradingAccountAdminForm(forms.ModelForm):
    broker = forms.ChoiceField(choices=broker_choices)
    owner = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"),
        required=False,
        help_text="New accounts only: the user who owns it (default: you).",
    )

    class Meta:
        model = TradingAccount
        fields = [
            "name",
            "broker",
            "currency",
            "starting_cash",
            "connection",
            "allow_after_market_orders",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            # Broker and owner are chosen once, when the account is opened.
            self.fields.pop("broker", None)
            self.fields.pop("owner", None)

    def clean(self):
        cleaned = super().clean()
        if self.instance._state.adding and not self.errors:
            errors = services.account_fields_errors(
                name=cleaned.get("name", ""),
                broker=cleaned.get("broker", ""),
                starting_cash=cleaned.get("starting_cash"),
                currency=cleaned.get("currency", ""),
            )
            connection = cleaned.get("connection")
            if connection is not None and connection.broker != cleaned.get("broker"):
                errors["connection"] = [f"This connection is for {connection.broker!r}."]
            for field, messages_ in errors.items():
                self.add_error(field, messages_)
        return cleaned


class AccountMembershipInline(MembershipInline):
    fk_name = "account"
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]


@admin.register(TradingAccount)
class TradingAccountAdmin(MembershipFormsetMixin, AuditedAdmin):
    form = TradingAccountAdminForm
    list_display = [
        "name",
        "broker",
        "status",
        "currency",
        "cash_display",
        "kill_switch",
        "member_count",
        "created_at",
    ]
    list_filter = ["status", "broker", "currency", "risk_limits__kill_switch"]
    search_fields = ["name", "memberships__user__username"]
    readonly_fields = [
        "id",
        "status",
        "cash_display",
        "starting_cash_display",
        "created_by",
        "created_at",
        "updated_at",
        "limits",
    ]
    actions = [
        "suspend_accounts",
        "reactivate_accounts",
        "engage_kill_switch",
        "release_kill_switch",
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("risk_limits")
            .annotate(_members=Count("memberships"))
        )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["owner", *TradingAccountAdminForm.Meta.fields]
        return [
            "id",
            "name",
            "broker",
            "currency",
            "status",
            "starting_cash_display",
            "cash_display",
            "connection",
            "allow_after_market_orders",
            "limits",
            "created_by",
            "created_at",
            "updated_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [*self.readonly_fields, "broker", "currency"]

    def get_inlines(self, request, obj):
        return [AccountMembershipInline] if obj is not None else []

    @admin.display(boolean=True, description="Kill switch", ordering="risk_limits__kill_switch")
    def kill_switch(self, obj: TradingAccount) -> bool:
        limits = getattr(obj, "risk_limits", None)
        return bool(limits and limits.kill_switch)

    @admin.display(description="Cash", ordering="cash")
    def cash_display(self, obj: TradingAccount) -> str:
        return money_text(obj.cash)

    @admin.display(description="Starting cash", ordering="starting_cash")
    def starting_cash_display(self, obj: TradingAccount) -> str:
        return money_text(obj.starting_cash)

    @admin.display(description="Members", ordering="_members")
    def member_count(self, obj: TradingAccount) -> int:
        return getattr(obj, "_members", 0)

    @admin.display(description="Risk limits")
    def limits(self, obj: TradingAccount) -> str:
        url = reverse("admin:accounts_risklimits_change", args=[obj.pk])
        return format_html('<a href="{}">Edit risk limits</a>', url)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        created = services.account_create(
            actor=request.user,
            owner=form.cleaned_data.get("owner") or request.user,
            name=obj.name,
            broker=obj.broker,
            starting_cash=obj.starting_cash,
            currency=obj.currency,
            connection=obj.connection,
        )
        if obj.allow_after_market_orders:
            TradingAccount.objects.filter(pk=created.pk).update(allow_after_market_orders=True)
        adopt_created(obj, created)
        obj._oms_audit_diff = {}
        return None

    @admin.action(description="Suspend selected accounts", permissions=["change"])
    def suspend_accounts(self, request, queryset: QuerySet[TradingAccount]):
        self._run_per_object(
            request,
            queryset,
            "Suspend",
            lambda a: services.account_set_status(
                actor=request.user, account=a, status=AccountStatus.SUSPENDED, reason="admin"
            ),
        )

    @admin.action(description="Reactivate selected accounts", permissions=["change"])
    def reactivate_accounts(self, request, queryset: QuerySet[TradingAccount]):
        self._run_per_object(
            request,
            queryset,
            "Reactivate",
            lambda a: services.account_set_status(
                actor=request.user, account=a, status=AccountStatus.ACTIVE, reason="admin"
            ),
        )

    @admin.action(description="Engage kill switch (stop new orders)", permissions=["change"])
    def engage_kill_switch(self, request, queryset: QuerySet[TradingAccount]):
        self._run_per_object(
            request,
            queryset,
            "Kill switch engaged",
            lambda a: risk_services.account_kill_switch_set(
                actor=request.user, account=a, engaged=True
            ),
        )

    @admin.action(description="Release kill switch", permissions=["change"])
    def release_kill_switch(self, request, queryset: QuerySet[TradingAccount]):
        self._run_per_object(
            request,
            queryset,
            "Kill switch released",
            lambda a: risk_services.account_kill_switch_set(
                actor=request.user, account=a, engaged=False
            ),
        )


@admin.register(AccountMembership)
class AccountMembershipAdmin(AuditedAdmin):
    list_display = ["user", "account", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "account__name"]
    autocomplete_fields = ["user", "account"]
    fields = ["user", "account", "role", "created_at"]
    readonly_fields = ["created_at"]

    def save_model(self, request, obj, form, change):
        obj._oms_audit_diff = form_diff(form) if change else {}
        if change and {"user", "account"} & set(form.changed_data):
            original = AccountMembership.objects.get(pk=obj.pk)
            services.membership_remove(actor=request.user, membership=original)
        membership = services.membership_set(
            actor=request.user, account=obj.account, user=obj.user, role=obj.role
        )
        adopt_created(obj, membership)

    def delete_model(self, request, obj):
        services.membership_remove(actor=request.user, membership=obj)

    def delete_queryset(self, request, queryset):
        for membership in queryset:
            services.membership_remove(actor=request.user, membership=membership)
