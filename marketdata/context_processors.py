"""Template context from market data for every page: tick sizes, so static/js/format.js
writes live prices at the same precision as the server's `price` filter."""

from __future__ import annotations

from django.http import HttpRequest

from marketdata.selectors import instrument_tick_sizes


def instrument_ticks(request: HttpRequest) -> dict[str, object]:
    # A callable: the template calls it (one query) only where base.html renders it.
    return {"instrument_ticks": instrument_tick_sizes}
