"""Server-rendered pages of pnl: positions (live), PnL report with charts, the lot ledger
of one position, and CSV exports. Live parts talk to the REST API and the stream from
static/js/pnl/."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.selectors import account_overview_for_user
from marketdata.selectors import instrument_tick_size
from oms_site.api import format_decimal
from oms_site.errors import NotFound, ValidationFailed
from oms_site.parsing import query_date
from pnl import exports, selectors
from pnl.models import AlertStatus, ReconciliationAlert
from pnl.serializers import PositionSerializer


def _accounts(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {
            "id": str(overview.account.pk),
            "name": overview.account.name,
            "broker": overview.account.broker,
            "currency": overview.account.currency,
            "cash": format_decimal(overview.account.cash),
            "can_trade": overview.can_trade,
        }
        for overview in account_overview_for_user(user=request.user)
    ]


def _selected_account(request: HttpRequest, accounts: list[dict[str, Any]]) -> str:
    wanted = request.GET.get("account", "")
    return wanted if any(a["id"] == wanted for a in accounts) else ""


@login_required
@require_GET
def positions_page(request: HttpRequest) -> HttpResponse:
    accounts = _accounts(request)
    selected = _selected_account(request, accounts)
    rows = selectors.position_list(user=request.user, account_id=selected or None)
    positions = [
        {**PositionSerializer(row).data, "multiplier": format_decimal(row.multiplier)}
        for row in rows
    ]
    visible = [a["id"] for a in accounts]
    alerts = list(
        ReconciliationAlert.objects.filter(account_id__in=visible, status=AlertStatus.OPEN)
        .select_related("account")
        .order_by("-created_at")[:20]
    )
    return render(
        request,
        "pnl/positions.html",
        {
            "accounts": accounts,
            "selected": selected,
            "positions": positions,
            "alerts": alerts,
            "page_data": {"accounts": accounts, "selected": selected, "positions": positions},
        },
    )


@login_required
@require_GET
def pnl_page(request: HttpRequest) -> HttpResponse:
    accounts = _accounts(request)
    return render(
        request,
        "pnl/pnl.html",
        {
            "accounts": accounts,
            "filters": {
                "account": _selected_account(request, accounts),
                "from": request.GET.get("from", ""),
                "to": request.GET.get("to", ""),
            },
        },
    )


@login_required
@require_GET
def position_lots_page(request: HttpRequest, account_id: str, symbol: str) -> HttpResponse:
    try:
        ledger = selectors.lot_ledger(user=request.user, account_id=account_id, symbol=symbol)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    position = ledger.position
    mark = position.market_price if position is not None else None
    lots = []
    for lot in ledger.lots:
        sign = 1 if lot.side == "long" else -1
        unrealized = None
        if mark is not None:
            unrealized = (mark - lot.price) * lot.remaining_qty * sign * position.multiplier
        lots.append({"lot": lot, "unrealized": unrealized})
    return render(
        request,
        "pnl/lots.html",
        {
            "ledger": ledger,
            "position": position,
            "lots": lots,
            "tick_size": instrument_tick_size(symbol=ledger.symbol),
        },
    )


def _export(request: HttpRequest, kind: str) -> HttpResponse:
    try:
        return exports.csv_response(
            user=request.user,
            kind=kind,
            account_id=request.GET.get("account") or None,
            symbol=request.GET.get("symbol") or None,
            date_from=query_date(request.GET, "from"),
            date_to=query_date(request.GET, "to"),
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ValidationFailed as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")


@login_required
@require_GET
def export_fills(request: HttpRequest) -> HttpResponse:
    return _export(request, "fills")


@login_required
@require_GET
def export_matches(request: HttpRequest) -> HttpResponse:
    return _export(request, "matches")


@login_required
@require_GET
def export_daily(request: HttpRequest) -> HttpResponse:
    return _export(request, "daily")


def dashboard_panel_context(request: HttpRequest) -> dict[str, Any]:
    """Open positions and today's PnL of the user's accounts, for the dashboard."""
    rows = selectors.position_list(user=request.user)
    open_rows = [row for row in rows if row.qty]
    unrealized = sum((row.unrealized_pnl or 0 for row in rows), Decimal("0"))
    realized = sum((row.realized_pnl for row in rows), Decimal("0"))
    fees = sum((row.fees for row in rows), Decimal("0"))
    return {
        "open_positions": open_rows[:8],
        "open_count": len(open_rows),
        "unrealized": unrealized,
        "net": realized + unrealized - fees,
    }
