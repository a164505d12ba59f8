"""Pages of strategies: the list with its create form, one strategy's page (accounts and
sizing, the live signal log, pause/resume, rotate secret, the TradingView alert and curl
examples) and the blotter's order → strategy links. Writes go through
strategies.services; the secret is shown once, on the first page after it was made."""

from __future__ import annotations

import json
import shlex
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.selectors import user_can_trade_any
from oms_site.errors import ApplicationError, NotFound
from strategies import page_selectors, selectors, services
from strategies.forms import (
    StrategyForm,
    apply_strategy_errors,
    chosen_members,
    member_formset,
)
from strategies.models import Strategy
from strategies.serializers import SignalSerializer

SECRET_SESSION_KEY = "strategy_secret_once"
LOG_SIZE = 50
MAX_LINK_IDS = 200


def _get(request: HttpRequest, strategy_id: object) -> Strategy:
    try:
        return selectors.strategy_get_for_user(user=request.user, strategy_id=strategy_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _remember_secret(request: HttpRequest, issued: services.IssuedStrategy) -> None:
    # Server-side session (database): the secret is never in a cookie and is dropped
    # by the first page that shows it.
    request.session[SECRET_SESSION_KEY] = {
        "strategy": str(issued.strategy.pk),
        "secret": issued.secret,
    }


def _take_secret(request: HttpRequest, strategy: Strategy) -> str | None:
    kept = request.session.get(SECRET_SESSION_KEY)
    if not kept or kept.get("strategy") != str(strategy.pk):
        return None
    del request.session[SECRET_SESSION_KEY]
    return kept["secret"]


@login_required
@require_http_methods(["GET", "POST"])
def strategy_list(request: HttpRequest) -> HttpResponse:
    can_create = user_can_trade_any(user=request.user)
    if request.method == "POST" and not can_create:
        raise DjangoPermissionDenied("Only a user who may trade on an account creates strategies.")
    accounts = page_selectors.tradable_accounts(user=request.user)
    data = request.POST if request.method == "POST" else None
    form = StrategyForm(data)
    members = member_formset(accounts=accounts, data=data)
    if data is not None and form.is_valid() and members.is_valid():
        entries, member_forms = chosen_members(members)
        if not entries:
            form.add_error(None, "Choose at least one account to trade.")
        else:
            try:
                issued = services.strategy_create(
                    user=request.user, accounts=entries, **form.service_values()
                )
            except ApplicationError as exc:
                apply_strategy_errors(exc, form=form, member_forms=member_forms)
            else:
                _remember_secret(request, issued)
                messages.success(request, f"Strategy “{issued.strategy.name}” created.")
                return redirect("strategy-detail", strategy_id=issued.strategy.pk)
    return render(
        request,
        "strategies/list.html",
        {
            "rows": page_selectors.strategy_rows(user=request.user),
            "can_create": can_create,
            "form": form,
            "members": members,
            "open_form": data is not None,
        },
        status=400 if data is not None else 200,
    )


def _alert_templates(secret: str | None) -> dict[str, str]:
    """TradingView alert messages (its placeholders in {{ }}), as the alert's text."""
    secret_text = secret or "<your webhook secret>"
    common = {"secret": secret_text, "symbol": "{{ticker}}"}
    tail = {"id": "{{strategy.order.id}}-{{timenow}}", "ts": "{{timenow}}"}
    action = {
        **common,
        "action": "{{strategy.order.action}}",
        "qty": "{{strategy.order.contracts}}",
        **tail,
    }
    position = {**common, "position": "{{strategy.position_size}}", **tail}
    return {
        "action": json.dumps(action, indent=2),
        "position": json.dumps(position, indent=2),
    }


def _curl_example(webhook_url: str, secret: str | None) -> str:
    body = json.dumps({"symbol": "ACME", "action": "buy", "qty": "10", "id": "my-alert-1"})
    secret_line = shlex.quote(secret) if secret else "'<your webhook secret>'"
    return "\n".join(
        [
            f"SECRET={secret_line}",
            f"BODY={shlex.quote(body)}",
            "SIG=$(printf '%s' \"$BODY\""
            " | openssl dgst -sha256 -hmac \"$SECRET\" | awk '{print $NF}')",
            f"curl -sS -X POST {shlex.quote(webhook_url)} \\",
            "  -H 'Content-Type: application/json' \\",
            '  -H "X-Signature: $SIG" \\',
            '  --data-raw "$BODY"',
        ]
    )


@login_required
@require_GET
def strategy_detail(request: HttpRequest, strategy_id: object) -> HttpResponse:
    strategy = _get(request, strategy_id)
    members = page_selectors.strategy_members(strategy=strategy)
    signals = list(selectors.signal_list(strategy=strategy)[:LOG_SIZE])
    secret = _take_secret(request, strategy)
    webhook_url = request.build_absolute_uri(
        reverse("api-signal", kwargs={"signal_id": strategy.pk})
    )
    return render(
        request,
        "strategies/detail.html",
        {
            "strategy": strategy,
            "members": members,
            "secret": secret,
            "webhook_url": webhook_url,
            "alert_templates": _alert_templates(secret),
            "curl_example": _curl_example(webhook_url, secret),
            "signals_json": SignalSerializer(signals, many=True).data,
            "account_names": page_selectors.account_names(members=members, signals=signals),
            "signals_url": reverse("api-strategy-signals", kwargs={"strategy_id": strategy.pk}),
            "symbols": sorted((strategy.symbols or {}).items()),
        },
    )


@login_required
@require_POST
def strategy_pause(request: HttpRequest, strategy_id: object) -> HttpResponse:
    paused = request.POST.get("paused") == "1"
    try:
        strategy = services.strategy_set_paused(
            user=request.user, strategy_id=strategy_id, paused=paused
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    messages.success(
        request,
        f"“{strategy.name}” paused: its signals are refused and logged."
        if paused
        else f"“{strategy.name}” resumed: it takes signals again.",
    )
    return redirect("strategy-detail", strategy_id=strategy.pk)


@login_required
@require_POST
def strategy_rotate_secret(request: HttpRequest, strategy_id: object) -> HttpResponse:
    try:
        issued = services.strategy_rotate_secret(user=request.user, strategy_id=strategy_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    _remember_secret(request, issued)
    messages.warning(request, "New secret made: the old one no longer signs signals.")
    return redirect("strategy-detail", strategy_id=issued.strategy.pk)


@login_required
@require_POST
def strategy_delete(request: HttpRequest, strategy_id: object) -> HttpResponse:
    strategy = _get(request, strategy_id)
    try:
        services.strategy_delete(user=request.user, strategy_id=strategy.pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    messages.success(request, f"Strategy “{strategy.name}” deleted; its webhook answers 404.")
    return redirect("strategy-list")


@login_required
@require_GET
def order_links(request: HttpRequest) -> JsonResponse:
    """For the blotter: ?ids=<order id>,… → {"links": {order id: {"strategy",
    "strategy_name", "signal", "own"}}} for the orders the user may see."""
    ids = [part for part in request.GET.get("ids", "").split(",") if part][:MAX_LINK_IDS]
    valid = []
    for value in ids:
        try:
            valid.append(str(uuid.UUID(value)))
        except ValueError:
            continue  # not an order id: nothing to link
    links = page_selectors.order_links_for_user(user=request.user, order_ids=valid)
    return JsonResponse({"links": links})
