"""Quotes a loopback broker fake fills against: a source is a callable symbol → FakeQuote
(None when the symbol has no quote). Tests pass `dict_quote_source({...})`; the management
command passes `execution.fakes.marketdata_quote_source(broker)` (OMS's latest quotes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class FakeQuote:
    bid: Decimal | None = None
    ask: Decimal | None = None
    last: Decimal | None = None


QuoteSource = Callable[[str], FakeQuote | None]


def dict_quote_source(quotes: dict[str, Any]) -> QuoteSource:
    """A quote source over a dict: symbol → FakeQuote or {"bid", "ask", "last"}."""

    def source(symbol: str) -> FakeQuote | None:
        value = quotes.get(symbol)
        if value is None or isinstance(value, FakeQuote):
            return value
        return FakeQuote(
            **{k: Decimal(str(v)) for k, v in value.items() if k in ("bid", "ask", "last") and v}
        )

    return source
