"""Server-rendered pages of orders: the ticket, the blotter, one order's detail. The pages
talk to the REST API (orders, preview, fills) and the live stream from static/js/orders/."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.selectors import account_overview_for_user
from marketdata.selectors import instrument_list
from oms_site.api import format_decimal
from oms_site.errors import NotFound
from orders.core import selectors
from orders.core.serializers import OrderEventSerializer, OrderSerializer
from orders.models import OrderStatus, OrderType, TimeInForce
from pnl.selectors import fill_list_for_order
from pnl.serializers import FillSerializer

MAX_TICKET_INSTRUMENTS = 5000


def ticket_accounts(request: HttpRequest, *, trading_only: bool) -> list[dict]:
    rows = []
    for overview in account_overview_for_user(user=request.user):
        if trading_only and not overview.can_trade:
            continue
        account = overview.account
        rows.append(
            {
                "id": str(account.pk),
                "name": account.name,
                "broker": account.broker,
                "currency": account.currency,
                "status": account.status,
                "buying_power": format_decimal(overview.buying_power),
                "can_trade": overview.can_trade,
            }
        )
    return rows


def _default_account(accounts: list[dict]) -> str:
    """The ticket opens on a paper account when there is one: it fills against the live
    quote, whatever the internal exchange's book holds at the moment."""
    paper = [a for a in accounts if a["broker"] == "paper"]
    return (paper or accounts or [{"id": ""}])[0]["id"]


@login_required
@require_GET
def order_ticket(request: HttpRequest) -> HttpResponse:
    instruments = [
        {
            "symbol": instrument.symbol,
            "name": instrument.name,
            "exchange": instrument.exchange_id,
            "tick_size": format_decimal(instrument.tick_size),
            "lot_size": format_decimal(instrument.lot_size),
        }
        for instrument in instrument_list(tradable=True)[:MAX_TICKET_INSTRUMENTS]
    ]
    accounts = ticket_accounts(request, trading_only=True)
    prefill = {
        "account": request.GET.get("account") or _default_account(accounts),
        "symbol": request.GET.get("symbol", "").upper(),
        "side": request.GET.get("side", "buy"),
        "type": request.GET.get("type", "limit"),
    }
    return render(
        request,
        "orders/ticket.html",
        {
            "accounts": accounts,
            "instruments": instruments,
            "prefill": prefill,
            "order_types": OrderType.choices,
            "tifs": TimeInForce.choices,
        },
    )


BLOTTER_TABS = [("open", "Open"), ("filled", "Filled"), ("all", "All")]


@login_required
@require_GET
def order_blotter(request: HttpRequest) -> HttpResponse:
    tab = request.GET.get("tab", "open")
    if tab not in dict(BLOTTER_TABS):
        tab = "open"
    return render(
        request,
        "orders/blotter.html",
        {
            "tabs": BLOTTER_TABS,
            "tab": tab,
            "accounts": ticket_accounts(request, trading_only=False),
            "filters": {
                "account": request.GET.get("account", ""),
                "symbol": request.GET.get("symbol", "").upper(),
                "side": request.GET.get("side", ""),
            },
            "statuses": OrderStatus.choices,
        },
    )


@login_required
@require_GET
def order_detail(request: HttpRequest, order_id) -> HttpResponse:
    try:
        order = selectors.order_get_for_user(user=request.user, order_id=order_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    accounts = {a["id"]: a for a in ticket_accounts(request, trading_only=False)}
    return render(
        request,
        "orders/detail.html",
        {
            "order": order,
            "account": order.account,
            "can_trade": accounts.get(str(order.account_id), {}).get("can_trade", False),
            "order_json": OrderSerializer(order).data,
            "events_json": OrderEventSerializer(
                selectors.order_events(order=order), many=True
            ).data,
            "fills_json": FillSerializer(fill_list_for_order(order_id=order.pk), many=True).data,
        },
    )
