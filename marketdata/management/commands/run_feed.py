"""`python manage.py run_feed --source simulator|replay|<adapter>` — a long-running feed.

Every tick goes through `marketdata.services.ticks_ingest` (the same path as the API push),
in batches. Stops cleanly on SIGINT/SIGTERM, logging what it received, applied and dropped.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections, connection

from marketdata import selectors, services
from marketdata.feeds.base import (
    Backoff,
    TickSink,
    feed_adapter_factory,
    feed_adapter_names,
    run_feed,
)
from marketdata.feeds.replay import ReplayAdapter
from marketdata.feeds.simulator import SimParams, SimulatorAdapter

logger = logging.getLogger("marketdata.feed")
DB_RETRIES = 5


def _speed(value: str) -> float:
    text = value.strip().lower()
    if text in ("max", "0", "inf"):
        return 0.0
    text = text.rstrip("x×")
    speed = float(text)
    if speed <= 0:
        raise ValueError("speed must be positive or 'max'")
    return speed


class Command(BaseCommand):
    help = "Run a market data feed (simulator, replay of a CSV, or a registered adapter)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--source", default="simulator", help="simulator | replay | <adapter>")
        parser.add_argument("--symbols", default="", help="Comma-separated symbols (default: all).")
        parser.add_argument("--seed", type=int, default=42, help="Simulator: RNG seed.")
        parser.add_argument(
            "--interval", type=float, default=0.5, help="Simulator: seconds per tick."
        )
        parser.add_argument("--drift", type=float, default=None, help="Simulator: annual drift μ.")
        parser.add_argument("--volatility", type=float, default=None, help="Simulator: annual σ.")
        parser.add_argument("--spread-ticks", type=int, default=2, help="Simulator: ask − bid.")
        parser.add_argument("--time-scale", type=float, default=1.0, help="Simulator: speed-up.")
        parser.add_argument("--file", default="", help="Replay: CSV of ticks or OHLC bars.")
        parser.add_argument("--speed", default="1", help="Replay: 1, 10, … or max.")
        parser.add_argument("--rebase", action="store_true", help="Replay: first row = now.")
        parser.add_argument("--symbol", default="", help="Replay: symbol for files without one.")
        parser.add_argument("--tz", default="UTC", help="Replay: zone of times without offset.")
        parser.add_argument("--bar-seconds", type=float, default=60.0, help="Replay: bar length.")
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--max-ticks", type=int, default=None, help="Stop after N ticks.")
        parser.add_argument("--duration", type=float, default=None, help="Stop after N seconds.")

    def handle(self, *args: Any, **opts: Any) -> None:
        source = opts["source"]
        symbols = [s.strip().upper() for s in opts["symbols"].split(",") if s.strip()]
        adapter = self._adapter(source, symbols, opts)
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        if opts["duration"]:
            timer = threading.Timer(opts["duration"], stop.set)
            timer.daemon = True
            timer.start()
        sink = TickSink(_ingest_fn(source), batch_size=opts["batch_size"])
        logger.info("Feed %s started (%s)", source, ", ".join(symbols) or "all symbols")
        counts = run_feed(
            adapter,
            symbols=symbols,
            sink=sink,
            stop=stop,
            backoff=Backoff(),
            max_ticks=opts["max_ticks"],
            on_stats=lambda c: logger.info("Feed %s: %s", source, dict(c)),
        )
        errors = getattr(adapter, "errors", [])
        if errors:
            counts["unreadable_row"] += len(errors)
            for error in errors[:20]:
                logger.warning("Feed %s skipped %s", source, error)
        summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        self.stdout.write(f"feed {source} stopped: {summary or 'nothing received'}")

    def _adapter(self, source: str, symbols: list[str], opts: dict[str, Any]):
        if source == "simulator":
            params = _sim_params(symbols, opts)
            if not params:
                raise CommandError("No instruments are marked for simulation (run seed_demo).")
            return SimulatorAdapter(
                params, seed=opts["seed"], interval=opts["interval"], time_scale=opts["time_scale"]
            )
        if source == "replay":
            if not opts["file"]:
                raise CommandError("replay needs --file PATH")
            path = Path(opts["file"])
            if not path.is_file():
                raise CommandError(f"No such file: {path}")
            from zoneinfo import ZoneInfo

            try:
                speed = _speed(opts["speed"])
            except ValueError as exc:
                raise CommandError(f"--speed: {exc}") from exc
            return ReplayAdapter(
                path,
                speed=speed,
                rebase=opts["rebase"],
                default_symbol=opts["symbol"] or None,
                default_tz=ZoneInfo(opts["tz"]),
                bar_seconds=opts["bar_seconds"],
            )
        factory = feed_adapter_factory(source)
        if factory is None:
            known = ", ".join(["simulator", "replay", *feed_adapter_names()])
            raise CommandError(f"Unknown feed source {source!r} (known: {known}).")
        return factory(symbols=symbols)


def _sim_params(symbols: list[str], opts: dict[str, Any]) -> list[SimParams]:
    instruments = selectors.instrument_list(simulate=True)
    if symbols:
        instruments = instruments.filter(symbol__in=symbols)
    quotes = selectors.quotes_latest(symbols=[i.symbol for i in instruments])
    params = []
    for instrument in instruments:
        quote = quotes.get(instrument.symbol)
        # Continue from the last price so a restarted feed does not jump.
        start = (quote.last if quote and quote.last else None) or instrument.sim_start_price
        params.append(
            SimParams(
                symbol=instrument.symbol,
                start_price=Decimal(start or "100"),
                tick_size=instrument.tick_size.normalize(),
                lot_size=instrument.lot_size.normalize(),
                drift=opts["drift"] if opts["drift"] is not None else float(instrument.sim_drift),
                volatility=(
                    opts["volatility"]
                    if opts["volatility"] is not None
                    else float(instrument.sim_volatility)
                ),
                spread_ticks=opts["spread_ticks"],
            )
        )
    return params


def _ingest_fn(source: str):
    def ingest(batch):
        for attempt in range(1, DB_RETRIES + 1):
            if not connection.in_atomic_block:  # (inside one — tests — the caller owns it)
                close_old_connections()
            try:
                return services.ticks_ingest(ticks=batch, source=source)
            except DatabaseError as exc:
                if connection.in_atomic_block:
                    raise
                # The DB went away or a lock timed out: reconnect and retry the same batch
                # (its transaction rolled back, so a retry cannot apply a tick twice).
                logger.warning("Feed %s: ingest failed (%s), attempt %d", source, exc, attempt)
                connection.close()
                time.sleep(min(5.0, 0.2 * 2**attempt))
        logger.error("Feed %s: dropped a batch of %d ticks after DB errors", source, len(batch))
        return []

    return ingest
