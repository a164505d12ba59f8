"""The back office has no sign-in form of its own.

Django's /admin/login/ checks a password and nothing else: no login throttle, no second
factor. It is replaced by a redirect to allauth's sign-in (throttled, TOTP, the admin MFA
rule) that comes back to where the admin was going; it never reads credentials.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode


def admin_login(request: HttpRequest, extra_context: dict | None = None) -> HttpResponseRedirect:
    next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("admin:index")
    if not request.user.is_authenticated:
        query = urlencode({REDIRECT_FIELD_NAME: next_url})
        return HttpResponseRedirect(f"{reverse('account_login')}?{query}")
    if not admin.site.has_permission(request):
        raise PermissionDenied("This account may not use the back office.")
    return HttpResponseRedirect(next_url)
