"""Responses that may show orders, positions, PnL or keys are never stored by a browser or proxy.

The rule is kept simple so no page is forgotten: every /api/ response (whoever asked, by key
or session) and every page served to a signed-in user gets `Cache-Control: no-store` (added
to what the view set). Static files are answered before this (WhiteNoise) and keep their own
caching.
"""

from __future__ import annotations

from django.utils.cache import patch_cache_control


class NoStoreMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith("/api/") or _signed_in(request):
            patch_cache_control(response, no_store=True)
        return response


def _signed_in(request) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)
