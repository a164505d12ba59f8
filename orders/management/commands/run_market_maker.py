"""`python manage.py run_market_maker` — the demo's market maker on the internal exchange.

Started by `make run` with the simulator feed (orders/market_maker.py). Every `--interval`
seconds it re-quotes each simulated instrument whose quotes are due; it waits (and says so
once) while the house account does not exist yet, and stops cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections, connection

from marketdata.selectors import instrument_list, quotes_latest
from orders.market_maker import MakerConfig, house_account, market_maker_requote

logger = logging.getLogger("orders.market_maker")
ERROR_BACKOFF_SECS = 30.0  # a refused quote (a limit, a kill switch) is retried this late


class Command(BaseCommand):
    help = "Quote both sides of every simulated instrument on the internal exchange."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds per round.")
        parser.add_argument("--levels", type=int, default=MakerConfig.levels)
        parser.add_argument("--qty", default=str(MakerConfig.qty))
        parser.add_argument("--min-requote-secs", type=float, default=MakerConfig.min_requote_secs)
        parser.add_argument("--duration", type=float, default=None, help="Stop after N seconds.")

    def handle(self, *args: Any, **opts: Any) -> None:
        config = MakerConfig(
            levels=max(1, opts["levels"]),
            qty=Decimal(opts["qty"]),
            min_requote_secs=opts["min_requote_secs"],
        )
        stop = threading.Event()
        previous = {
            signum: signal.signal(signum, lambda *_: stop.set())
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        deadline = time.monotonic() + opts["duration"] if opts["duration"] else None
        maker = MarketMaker(config)
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            if not connection.in_atomic_block:  # a caller's transaction (a test) stays open
                close_old_connections()
            try:
                maker.round(now=time.monotonic())
            except DatabaseError as exc:  # the DB went away: reconnect next round
                logger.warning("market maker: database error (%s); retrying", exc)
            stop.wait(opts["interval"])
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        self.stdout.write(f"market maker stopped: {maker.totals}")


class MarketMaker:
    """One process's state: when each symbol may be re-quoted next."""

    def __init__(self, config: MakerConfig) -> None:
        self.config = config
        self.next_at: dict[str, float] = {}
        self.waiting_for_account = False
        self.totals = {"placed": 0, "moved": 0, "canceled": 0}

    def round(self, *, now: float) -> None:
        account = house_account()
        if account is None:
            if not self.waiting_for_account:
                logger.warning("market maker: no house account yet (run manage.py seed_demo)")
                self.waiting_for_account = True
            return
        if self.waiting_for_account:
            logger.info("market maker: quoting for %s", account.name)
            self.waiting_for_account = False
        due = instrument_list(simulate=True, tradable=True)
        instruments = [i for i in due if self.next_at.get(i.symbol, 0) <= now]
        quotes = quotes_latest(symbols=[i.symbol for i in instruments])
        for instrument in instruments:
            result = market_maker_requote(
                account=account,
                symbol=instrument.symbol,
                tick_size=instrument.tick_size,
                quote=quotes.get(instrument.symbol),
                config=self.config,
            )
            for key in self.totals:
                self.totals[key] += getattr(result, key)
            if result.errors:
                logger.warning("market maker: %s", "; ".join(result.errors[:3]))
                self.next_at[instrument.symbol] = now + ERROR_BACKOFF_SECS
            elif result.acted:
                logger.info(
                    "market maker %s: placed %d, moved %d, canceled %d",
                    instrument.symbol,
                    result.placed,
                    result.moved,
                    result.canceled,
                )
                self.next_at[instrument.symbol] = now + self.config.min_requote_secs
