"""Pages of execution: the internal exchange's order book with live depth."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from execution.selectors import DEFAULT_DEPTH, orderbook_get
from oms_site.errors import NotFound


@login_required
def orderbook_index_page(request: HttpRequest) -> HttpResponse:
    from marketdata.selectors import instrument_list

    first = instrument_list(tradable=True).values_list("symbol", flat=True).first()
    if first is None:
        raise Http404("No instruments yet.")
    return redirect("orderbook", symbol=first)


@login_required
def orderbook_page(request: HttpRequest, symbol: str) -> HttpResponse:
    from marketdata.selectors import instrument_get, instrument_list, quote_latest

    try:
        instrument = instrument_get(symbol=symbol)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    if instrument.symbol != symbol:
        return redirect("orderbook", symbol=instrument.symbol)
    book = orderbook_get(symbol=instrument.symbol, depth=DEFAULT_DEPTH)
    return render(
        request,
        "execution/orderbook.html",
        {
            "instrument": instrument,
            "book": book,
            "quote": quote_latest(symbol=instrument.symbol),
            "symbols": list(instrument_list(tradable=True).values_list("symbol", flat=True)),
            "depth": DEFAULT_DEPTH,
        },
    )
