"""Server-rendered pages of accounts: dashboard, trading accounts, API keys."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import registry, risk_services, selectors, services
from accounts.forms import (
    AccountCreateForm,
    AccountEditForm,
    ApiKeyCreateForm,
    BrokerConnectForm,
    RiskLimitsForm,
    apply_service_errors,
)
from accounts.models import MembershipRole, TradingAccount
from oms_site.errors import (
    ApplicationError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)


def _account_or_404(request: HttpRequest, account_id: object, level: str = "view"):
    """Pages answer like the API: invisible → 404, visible but not enough → 403."""
    try:
        return selectors.account_get_for_user(user=request.user, account_id=account_id, level=level)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except PermissionDenied as exc:
        raise DjangoPermissionDenied(exc.message) from exc


def _totals_by_currency(overviews) -> list[dict[str, object]]:
    totals: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {"cash": Decimal("0"), "buying_power": Decimal("0")}
    )
    for overview in overviews:
        bucket = totals[overview.account.currency]
        bucket["cash"] += overview.cash or Decimal("0")
        bucket["buying_power"] += overview.buying_power
    return [{"currency": cur, **values} for cur, values in sorted(totals.items())]


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    overviews = selectors.account_overview_for_user(user=request.user)
    panels = []
    for panel in registry.dashboard_panels():
        context = panel.context(request) if panel.context else {}
        html = render_to_string(panel.template, context, request=request)
        panels.append({"name": panel.name, "html": mark_safe(html)})  # noqa: S308 - our templates
    return render(
        request,
        "dashboard.html",
        {
            "overviews": overviews,
            "status_counts": selectors.account_status_counts(overviews=overviews),
            "totals": _totals_by_currency(overviews),
            "active_api_keys": selectors.api_key_active_count(user=request.user),
            "can_open_accounts": services.can_open_accounts(user=request.user),
            "panels": panels,
        },
    )


@login_required
@require_GET
def account_list(request: HttpRequest) -> HttpResponse:
    overviews = selectors.account_overview_for_user(user=request.user)
    return render(
        request,
        "accounts/account_list.html",
        {
            "overviews": overviews,
            "totals": _totals_by_currency(overviews),
            "can_open_accounts": services.can_open_accounts(user=request.user),
            "connect_specs": registry.broker_connection_specs(),
        },
    )


@sensitive_post_parameters("credentials")
@login_required
@require_http_methods(["GET", "POST"])
def account_create(request: HttpRequest) -> HttpResponse:
    if not services.can_open_accounts(user=request.user):
        raise DjangoPermissionDenied("Only admins and traders may open trading accounts.")
    form = AccountCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account = services.account_create(actor=request.user, **form.cleaned_data)
        except (ValidationFailed, PermissionDenied) as exc:  # e.g. exchange cash above the limit
            apply_service_errors(form, exc)
        else:
            messages.success(request, f"Account “{account.name}” opened.")
            return redirect("account-detail", account_id=account.pk)
    return render(
        request,
        "accounts/account_create.html",
        {"form": form, "connect_specs": registry.broker_connection_specs()},
    )


def _connect_spec_or_404(broker: str) -> registry.BrokerConnectionSpec:
    spec = registry.broker_connection_spec(broker)
    if spec is None or broker not in registry.broker_kinds():
        raise Http404(f"No broker adapter for {broker!r} is installed.")
    return spec


@sensitive_post_parameters()
@login_required
@require_http_methods(["GET", "POST"])
def broker_connect(request: HttpRequest, broker: str) -> HttpResponse:
    """Open an account at a real broker (one page per broker kind)."""
    spec = _connect_spec_or_404(broker)
    if not services.can_open_accounts(user=request.user):
        raise DjangoPermissionDenied("Only admins and traders may open trading accounts.")
    form = BrokerConnectForm(request.POST or None, spec=spec)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            credentials, settings = form.broker_values()
            try:
                account = services.account_create(
                    actor=request.user,
                    name=form.cleaned_data["name"],
                    broker=broker,
                    credentials=credentials,
                    settings=settings,
                )
            except (ValidationFailed, PermissionDenied) as exc:
                form.add_service_errors(exc)
            else:
                messages.success(
                    request, f"Account “{account.name}” connected to {spec.title}: test it now."
                )
                return redirect("account-broker", account_id=account.pk)
    return render(
        request, "accounts/broker_connect.html", {"form": form, "spec": spec}, status=status
    )


@login_required
@require_GET
def account_broker(request: HttpRequest, account_id) -> HttpResponse:
    """An account's broker connection: status (live), settings, the connection test and,
    for brokers with a daily login (Kite), the login link."""
    account = _account_or_404(request, account_id)
    role = selectors.membership_role(user=request.user, account=account)
    spec = registry.broker_connection_spec(account.broker)
    connection = account.connection
    settings_rows = []
    if spec is not None and connection is not None:
        settings_rows = [
            (field.label, (connection.settings or {}).get(field.name, field.default))
            for field in spec.settings
        ]
    return render(
        request,
        "accounts/account_broker.html",
        {
            "account": account,
            "spec": spec,
            "connection": connection,
            "settings_rows": settings_rows,
            "can_test": role in (MembershipRole.OWNER, MembershipRole.TRADE),
            "has_login": spec is not None and any(f.name == "login_url" for f in spec.settings),
        },
    )


def _detail_context(request: HttpRequest, account: TradingAccount, **forms) -> dict:
    role = selectors.membership_role(user=request.user, account=account)
    limits = selectors.risk_limits_get(account=account)
    is_manager = role == MembershipRole.OWNER
    context = {
        "account": account,
        "my_role": role,
        "buying_power": selectors.account_buying_power(account=account),
        "cash": selectors.account_cash(account=account),
        "funds": registry.account_funds(account),
        "members": selectors.account_members(account=account),
        "limits": limits,
        "connection": account.connection,
        "can_edit": is_manager,
        "can_edit_limits": request.user.is_oms_admin,
    }
    if is_manager:
        context["edit_form"] = forms.get("edit_form") or AccountEditForm(
            account=account, user=request.user
        )
    if request.user.is_oms_admin:
        context["limits_form"] = forms.get("limits_form") or RiskLimitsForm(
            initial=RiskLimitsForm.initial_from(limits)
        )
    return context


@login_required
@require_GET
def account_detail(request: HttpRequest, account_id) -> HttpResponse:
    account = _account_or_404(request, account_id)
    return render(request, "accounts/account_detail.html", _detail_context(request, account))


@login_required
@require_POST
def account_edit(request: HttpRequest, account_id) -> HttpResponse:
    account = _account_or_404(request, account_id, level="owner")
    form = AccountEditForm(request.POST, account=account, user=request.user)
    if form.is_valid():
        try:
            services.account_update(actor=request.user, account=account, **form.cleaned_data)
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        except ApplicationError as exc:  # invalid_state / permission_denied: say why
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Account updated.")
            return redirect("account-detail", account_id=account.pk)
    context = _detail_context(request, account, edit_form=form)
    return render(request, "accounts/account_detail.html", context, status=400)


@login_required
@require_POST
def account_risk_limits_edit(request: HttpRequest, account_id) -> HttpResponse:
    account = _account_or_404(request, account_id)
    if not request.user.is_oms_admin:
        raise DjangoPermissionDenied("Only admins may change risk limits.")
    form = RiskLimitsForm(request.POST)
    if form.is_valid():
        try:
            risk_services.risk_limits_update(
                actor=request.user, account=account, changes=form.cleaned_data
            )
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, "Risk limits saved.")
            return redirect("account-detail", account_id=account.pk)
    context = _detail_context(request, account, limits_form=form)
    return render(request, "accounts/account_detail.html", context, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def api_key_list(request: HttpRequest) -> HttpResponse:
    form = ApiKeyCreateForm(request.POST or None)
    issued = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            issued = services.api_key_create(user=request.user, **form.cleaned_data)
            form = ApiKeyCreateForm()
        else:
            status = 400
    # The raw key is rendered in this response only: it is never stored or shown again.
    response = render(
        request,
        "accounts/api_key_list.html",
        {"form": form, "issued": issued, "keys": selectors.api_key_list(user=request.user)},
        status=status,
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def api_key_revoke(request: HttpRequest, key_id) -> HttpResponse:
    try:
        api_key = selectors.api_key_get_for_user(user=request.user, key_id=key_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    services.api_key_revoke(api_key=api_key, actor=request.user)
    messages.success(request, f"Key {api_key.prefix}… revoked.")
    return redirect("api-key-list")
