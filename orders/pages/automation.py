"""Pages of automation: GTTs (list + form with a live price ladder) and scheduled orders.
They talk to the REST API (/api/v1/gtt, /api/v1/schedules) and the live stream from
static/js/orders/."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from marketdata.selectors import instrument_list
from oms_site.api import format_decimal
from orders.pages.orders import MAX_TICKET_INSTRUMENTS, ticket_accounts


def _instruments() -> list[dict]:
    return [
        {
            "symbol": instrument.symbol,
            "name": instrument.name,
            "tick_size": format_decimal(instrument.tick_size),
            "lot_size": format_decimal(instrument.lot_size),
        }
        for instrument in instrument_list(tradable=True)[:MAX_TICKET_INSTRUMENTS]
    ]


@login_required
@require_GET
def gtt_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "orders/gtt.html",
        {
            "accounts": ticket_accounts(request, trading_only=False),
            "instruments": _instruments(),
            "prefill": {
                "symbol": request.GET.get("symbol", "").upper(),
                "account": request.GET.get("account", ""),
            },
        },
    )


@login_required
@require_GET
def schedule_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "orders/schedules.html",
        {
            "accounts": ticket_accounts(request, trading_only=False),
            "instruments": _instruments(),
        },
    )
