"""Shared back-office plumbing: admin-role access, audit of every save/delete, helpers."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.template.defaultfilters import floatformat

from accounts import registry, services
from accounts.models import (
    AccountMembership,
    TradingAccount,
    User,
)
from oms_site.errors import ApplicationError, ValidationFailed

_SECRET_FIELDS = frozenset({"password", "password1", "password2", "new_credentials"})


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def form_diff(form: forms.BaseForm) -> dict[str, dict[str, Any]]:
    """old → new of every changed, non-secret field (as text)."""
    diff = {}
    for name in form.changed_data:
        if name in _SECRET_FIELDS:
            diff[name] = {"old": "…", "new": "(changed)"}
            continue
        old = form.initial.get(name)
        new = form.cleaned_data.get(name)
        diff[name] = {"old": jsonable(old), "new": jsonable(new)}
    return diff


def money_text(value: Any) -> str:
    return floatformat(value, "2g") if value is not None else "-"


def adopt_created(obj: Any, created: Any) -> None:
    """Make the admin's unsaved form instance the row a service just created."""
    obj.pk = created.pk
    obj._state.adding = False
    obj._state.db = created._state.db
    obj.refresh_from_db()


def service_errors_to_form(form: forms.BaseForm, exc: ValidationFailed) -> None:
    for field, errors in (exc.fields or {None: [exc.message]}).items():
        form.add_error(field if field in form.fields else None, errors)


class OmsAdminAccess:
    """Only active staff with the OMS admin role (or superusers) use these pages."""

    @staticmethod
    def _allowed(request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and user.is_oms_admin)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._allowed(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)


class AuditedAdmin(OmsAdminAccess, admin.ModelAdmin):
    """Writes an AuditLogEntry for every admin add, change and delete (besides Django's log)."""

    def save_model(self, request, obj, form, change):
        obj._oms_audit_diff = form_diff(form) if change else {}
        super().save_model(request, obj, form, change)

    def log_addition(self, request, obj, message):
        services.audit_log_record(
            actor=request.user, action="admin.add", obj=obj, data={"message": jsonable(message)}
        )
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        services.audit_log_record(
            actor=request.user,
            action="admin.change",
            obj=obj,
            data={
                "message": jsonable(message),
                "changes": getattr(obj, "_oms_audit_diff", None) or {},
            },
        )
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            services.audit_log_record(actor=request.user, action="admin.delete", obj=obj)
        return super().log_deletions(request, queryset)

    def _run_per_object(self, request, queryset, label: str, fn) -> None:
        """Apply a service to each selected row; report successes and refusals."""
        done, refused = 0, []
        for obj in queryset:
            try:
                fn(obj)
            except ApplicationError as exc:  # reported to the admin below, nothing half-done
                refused.append(f"{obj}: {exc.message}")
            else:
                done += 1
        if done:
            self.message_user(request, f"{label}: {done} done.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)


class MembershipInline(admin.TabularInline):
    model = AccountMembership
    fk_name = "user"
    extra = 0
    autocomplete_fields = ["account"]
    fields = ["account", "role", "created_at"]
    readonly_fields = ["created_at"]

    def has_add_permission(self, request, obj=None):
        return OmsAdminAccess._allowed(request)

    def has_change_permission(self, request, obj=None):
        return OmsAdminAccess._allowed(request)

    def has_delete_permission(self, request, obj=None):
        return OmsAdminAccess._allowed(request)

    def has_view_permission(self, request, obj=None):
        return OmsAdminAccess._allowed(request)


class MembershipFormsetMixin:
    """Inline membership edits go through membership_set / membership_remove (audited)."""

    def save_formset(self, request, form, formset, change):
        if formset.model is not AccountMembership:
            return super().save_formset(request, form, formset, change)
        # commit=False writes nothing; it fills new/changed/deleted_objects, which the admin's
        # change message needs. The writes themselves go through the services.
        formset.save(commit=False)
        for inline_form in formset.deleted_forms:
            if not inline_form.instance._state.adding:
                services.membership_remove(actor=request.user, membership=inline_form.instance)
        for inline_form in formset.forms:
            if inline_form in formset.deleted_forms or not inline_form.has_changed():
                continue
            data = inline_form.cleaned_data
            if not data:
                continue
            instance = inline_form.instance
            parent = form.instance
            account = parent if isinstance(parent, TradingAccount) else data["account"]
            user = parent if isinstance(parent, User) else data["user"]
            if not instance._state.adding:
                original = AccountMembership.objects.get(pk=instance.pk)
                if (original.user_id, original.account_id) != (user.pk, account.pk):
                    services.membership_remove(actor=request.user, membership=original)
            services.membership_set(
                actor=request.user, account=account, user=user, role=data["role"]
            )
        return None


# --- Choices ----------------------------------------------------------------------------
def broker_choices() -> list[tuple[str, str]]:
    return [(kind, kind) for kind in registry.broker_kinds()]
