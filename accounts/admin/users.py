"""Users: role column and filter; admins create users with a password (no sign-up)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from accounts.admin.base import (
    AuditedAdmin,
    MembershipFormsetMixin,
    MembershipInline,
)
from accounts.models import (
    Role,
    User,
)


# --- Users ------------------------------------------------------------------------------
class OmsUserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "email", "role")


class OmsUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(MembershipFormsetMixin, AuditedAdmin, DjangoUserAdmin):
    form = OmsUserChangeForm
    add_form = OmsUserCreationForm
    list_display = ["username", "email", "role", "is_active", "is_staff", "last_login"]
    list_filter = ["role", "is_active", "is_staff", "is_superuser"]
    search_fields = ["username", "email", "first_name", "last_name"]
    inlines = [MembershipInline]
    fieldsets = (
        (None, {"fields": ("username", "password", "role")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "email",
                    "role",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly.append("is_superuser")  # no self-promotion to superuser
        return readonly

    def save_model(self, request, obj, form, change):
        if obj.role == Role.ADMIN:
            obj.is_staff = True  # admins work in this back office
        super().save_model(request, obj, form, change)
