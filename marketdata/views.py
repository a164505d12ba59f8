"""Pages: the user's watchlist and an instrument's live chart. Live values come from the
`quotes:<symbol>` stream (static/js/marketdata/); the server renders the first values."""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from marketdata import calendar, selectors
from oms_site.errors import NotFound


@login_required
@require_GET
def watchlist(request: HttpRequest) -> HttpResponse:
    items = list(selectors.watchlist_items(user=request.user))
    symbols = [item.instrument.symbol for item in items]
    quotes = selectors.quotes_latest(symbols=symbols)
    rows = [
        {"instrument": item.instrument, "quote": quotes.get(item.instrument.symbol)}
        for item in items
    ]
    suggestions = [] if rows else list(selectors.instrument_list(simulate=True)[:8])
    return render(
        request,
        "marketdata/watchlist.html",
        {"rows": rows, "symbols": symbols, "suggestions": suggestions},
    )


@login_required
@require_GET
def instrument_detail(request: HttpRequest, symbol: str) -> HttpResponse:
    try:
        instrument = selectors.instrument_get(symbol=symbol)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    now = datetime.now(UTC)
    session = calendar.trading_session(instrument, around=now.date())
    local_now = now.astimezone(session.tz)
    offset = local_now.utcoffset()
    on_watchlist = instrument.symbol in selectors.watchlist_symbols(user=request.user)
    return render(
        request,
        "marketdata/instrument_detail.html",
        {
            "instrument": instrument,
            "quote": selectors.quote_latest(symbol=instrument.symbol),
            "market_open": session.is_open(now),
            "next_open": None if session.is_open(now) else session.next_open(now),
            "session": session,
            "utc_offset_seconds": int(offset.total_seconds()) if offset else 0,
            "on_watchlist": on_watchlist,
        },
    )
