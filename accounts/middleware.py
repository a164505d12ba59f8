"""Two-factor rules of the browser session.

- Admins must enrol TOTP before using OMS when OMS_REQUIRE_ADMIN_MFA is on.
- The back office (/admin/) needs a session that passed the second factor when its user has
  one: a password alone never opens it, whichever way the session was made.
"""

from __future__ import annotations

from allauth.account.authentication import get_authentication_records
from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode


class AdminMfaRequiredMiddleware:
    _EXEMPT_PREFIXES = ("/accounts/", "/static/", "/healthz", "/api/")
    _BACK_OFFICE_PREFIX = "/admin/"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.OMS_REQUIRE_ADMIN_MFA and self._needs_enrolment(request):
            return redirect(reverse("mfa_activate_totp"))
        if self._back_office_needs_second_factor(request):
            query = urlencode({REDIRECT_FIELD_NAME: request.get_full_path()})
            return redirect(f"{reverse('mfa_reauthenticate')}?{query}")
        return self.get_response(request)

    def _needs_enrolment(self, request) -> bool:
        # The path first: reading request.user loads the session and the user, which an
        # API request authenticated by its key never needs.
        if request.path.startswith(self._EXEMPT_PREFIXES):
            return False
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_oms_admin:
            return False
        return not _has_totp(user)

    def _back_office_needs_second_factor(self, request) -> bool:
        if not request.path.startswith(self._BACK_OFFICE_PREFIX):
            return False
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return False
        if not _has_totp(user):
            return False
        # allauth records each factor a session passed (sign-in or re-authentication). A
        # session that only enrolled its authenticator is asked for a code once.
        records = get_authentication_records(request, user)
        return not any(record.get("method") == "mfa" for record in records)


def _has_totp(user) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
