"""Pages of the daily Kite login: off to Kite, and back (Kite's redirect URL).

`/trading-accounts/<id>/kite/login/` sends the browser to Kite's login with a one-time
`oms_state` in `redirect_params` (Kite hands it back on the redirect); the app's redirect
URL is `/brokers/kite/callback/` (one URL for every account: the account travels in the
session, not in the URL), which checks that state and completes the login.
"""

from __future__ import annotations

import secrets
from urllib.parse import quote, urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.selectors import account_get_for_user
from execution import services_kite
from oms_site.errors import ApplicationError, NotFound, PermissionDenied

_SESSION_KEY = "kite_login"


def _account(request: HttpRequest, account_id: object):
    try:
        return account_get_for_user(user=request.user, account_id=account_id, level="trade")
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except PermissionDenied as exc:
        raise DjangoPermissionDenied(exc.message) from exc


@login_required
def kite_login_page(request: HttpRequest, account_id) -> HttpResponse:
    account = _account(request, account_id)
    try:
        login_url = services_kite.kite_login_url_get(account=account)
    except ApplicationError as exc:
        return _result(request, account, ok=False, detail=exc.message, status=409)
    state = secrets.token_urlsafe(16)
    request.session[_SESSION_KEY] = {"state": state, "account": str(account.pk)}
    return redirect(f"{login_url}&redirect_params={quote(urlencode({'oms_state': state}))}")


@login_required
def kite_callback_page(request: HttpRequest) -> HttpResponse:
    pending = request.session.pop(_SESSION_KEY, None) or {}
    given = request.GET.get("oms_state", "")
    if not pending or not given or not secrets.compare_digest(given, pending.get("state", "")):
        return _result(
            request,
            None,
            ok=False,
            status=400,
            detail="This Kite login was not started here (or was already used): "
            "start it again from the account.",
        )
    account = _account(request, pending["account"])
    token = request.GET.get("request_token", "")
    if request.GET.get("status") != "success" or not token:
        return _result(
            request, account, ok=False, status=400, detail="Kite did not log you in; try again."
        )
    try:
        status = services_kite.kite_session_complete(
            account=account, request_token=token, actor=request.user
        )
    except ApplicationError as exc:
        return _result(request, account, ok=False, detail=exc.message, status=409)
    return _result(request, account, ok=status["status"] == "connected", detail=status["detail"])


def _result(request: HttpRequest, account, *, ok: bool, detail: str, status: int = 200):
    return render(
        request,
        "execution/kite_login.html",
        {"account": account, "ok": ok, "detail": detail},
        status=status,
    )
