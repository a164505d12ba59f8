"""Admins must enrol TOTP before using OMS when OMS_REQUIRE_ADMIN_MFA is on."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse


class AdminMfaRequiredMiddleware:
    _EXEMPT_PREFIXES = ("/accounts/", "/static/", "/healthz", "/api/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.OMS_REQUIRE_ADMIN_MFA and self._needs_enrolment(request):
            return redirect(reverse("mfa_activate_totp"))
        return self.get_response(request)

    def _needs_enrolment(self, request) -> bool:
        # The path first: reading request.user loads the session and the user, which an
        # API request authenticated by its key never needs.
        if request.path.startswith(self._EXEMPT_PREFIXES):
            return False
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_oms_admin:
            return False
        from allauth.mfa.models import Authenticator

        return not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
