"""Loopback fakes of real brokers' wire protocols (for tests and demos; never for trading).

`FAKE_SERVERS` maps a broker name to the dotted path of its runner,
`run(*, port, quote_source, options)`, which serves the fake in the foreground
(`python manage.py run_fake_broker <broker> --port N`). The runners are imported lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

FAKE_SERVERS: dict[str, str] = {
    "alpaca": "execution.fakes.alpaca_server.run",
    "kite": "execution.fakes.kite_server.run",
}


def fake_server_runner(broker: str) -> Callable[..., Any]:
    try:
        dotted = FAKE_SERVERS[broker]
    except KeyError as exc:
        raise LookupError(f"no fake server for broker {broker!r}") from exc
    module, _, name = dotted.rpartition(".")
    return getattr(import_module(module), name)


def marketdata_quote_source(broker: str) -> Callable[[str], Any]:
    """A fake's quote source over OMS's market data: the broker's symbol is mapped back to the
    instrument (`Instrument.broker_symbols[broker]`, else the symbol itself) and its latest
    Quote gives bid/ask/last. Runs in a worker thread of the fake (it reads the database)."""
    from django.db import close_old_connections, connection

    from execution.fakes.quotes import FakeQuote
    from marketdata.models import Instrument
    from marketdata.selectors import quote_latest

    def source(symbol: str) -> FakeQuote | None:
        if not connection.in_atomic_block:  # a long-lived worker thread: drop a stale one
            close_old_connections()
        instrument = Instrument.objects.filter(**{f"broker_symbols__{broker}": symbol}).first()
        quote = quote_latest(symbol=instrument.symbol if instrument else symbol)
        if quote is None:
            return None
        return FakeQuote(bid=quote.bid, ask=quote.ask, last=quote.last)

    return source
