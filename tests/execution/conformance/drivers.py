"""Per-venue drivers: each knows how to make ITS venue fill, and what the venue holds.

A driver owns one trading account on its venue (traded by `client`, an API-key client of
the trader) and one instrument. The scripted tests drive OMS only through its HTTP API; a
driver only does what the venue's outside world would do: move quotes, bring a counterparty,
tell a broker fake to fill, and deliver the broker's updates.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.db import transaction

from accounts.models import RiskLimits
from execution.models import Venue, VenueOrder
from execution.records import reports_of_order
from execution.registry import emit_reports
from tests.factories import UserFactory, account_with_member
from tests.marketdata.factories import InstrumentFactory

ORDERS = "/api/v1/orders"
CASH = Decimal("1000000")


@dataclass(frozen=True)
class VenueOrderTotal:
    """What the venue says one OMS order did: orders it holds for it, filled qty, avg price."""

    orders: int
    filled_qty: Decimal
    avg_price: Decimal | None


def weighted(parts: list[tuple[Decimal, Decimal | None]]) -> tuple[Decimal, Decimal | None]:
    qty = sum((q for q, _ in parts), Decimal("0"))
    if not qty:
        return qty, None
    return qty, sum((q * p for q, p in parts if p is not None), Decimal("0")) / qty


class VenueDriver:
    name = ""

    def __init__(self, *, trader, client, tick) -> None:
        self.trader, self.client, self._tick = trader, client, tick
        self.account = self.make_account()
        self.symbol = self.instrument().symbol

    # ------------------------------------------------------------------ set up
    def instrument(self):
        return InstrumentFactory(symbol="ACME", tick_size=Decimal("0.05"))

    def make_account(self):
        return account_with_member(user=self.trader, broker=self.name, cash=CASH)

    def stop(self) -> None:
        """Stop threads and servers the driver started."""

    # ------------------------------------------------------------------ the outside world
    def quote(self, *, bid: str, ask: str, last: str) -> None:
        """The market moves: OMS's quote (and the broker's own quote, for a real broker)."""
        self._tick(self.symbol, last=last, bid=bid, ask=ask)

    def fill(self, order_id: str, *, qty: str, price: str, deliver: bool = True) -> None:
        """Make the venue fill `qty` of the working OMS order at `price` (its limit or better)
        and (unless `deliver` is False: a broker's update still on its way) hand the venue's
        reports to OMS."""
        raise NotImplementedError

    def before_close(self, *, qty: str, bid: str) -> None:
        """Arrange that a market sell of `qty` fills at `bid`."""
        self.quote(bid=bid, ask=str(Decimal(bid) + Decimal("0.10")), last=bid)

    replaying = False

    def deliver(self, until=lambda: True) -> None:
        """Hand what the venue reported but OMS has not applied yet to OMS."""
        if self.replaying:
            for row in VenueOrder.objects.filter(venue=self.name, account_id=str(self.account.pk)):
                stored = reports_of_order(order_id=str(row.order_id))
                emit_reports(list(reversed(stored)))
                emit_reports(stored)
        assert until()

    # ------------------------------------------------------------------ what the venue holds
    def venue_totals(self) -> dict[str, VenueOrderTotal]:
        """Per OMS order id: the venue's orders for it, its filled qty and average price."""
        totals = {}
        rows = VenueOrder.objects.filter(venue=self.name, account_id=str(self.account.pk))
        for row in rows:
            totals[str(row.order_id)] = VenueOrderTotal(
                1, row.filled_qty, row.avg_fill_price if row.filled_qty else None
            )
        return totals

    # ------------------------------------------------------------------ faults
    def arrange_reject(self, message: str) -> str:
        """Make the venue refuse the next order; the reason OMS should show. Skips when the
        venue has no such refusal."""
        pytest.skip(f"{self.name}: no broker-side refusal to arrange")

    def arrange(self, fault: str, **options) -> None:
        if fault in ("duplicate", "out_of_order"):
            # an in-process venue hands each report over once, in its transaction; what can
            # repeat is a re-delivery (a re-submission after a crash gets the stored answers):
            # every delivery from here on also replays the venue's stored reports, reversed
            self.replaying = True
            return
        pytest.skip(f"{self.name}: '{fault}' does not apply to an in-process venue")

    def follow_stream(self) -> None:
        pytest.skip(f"{self.name}: an in-process venue has no update stream to lose")

    def drop_stream(self) -> None:
        raise NotImplementedError

    def go_silent(self) -> None:
        pytest.skip(f"{self.name}: an in-process venue cannot stop answering")


class PaperDriver(VenueDriver):
    name = Venue.PAPER

    def fill(self, order_id: str, *, qty: str, price: str, deliver: bool = True) -> None:
        # a tick offering `qty` at the buy's limit fills that much of it (as maker)
        from marketdata.services import tick_ingest

        bid = str(Decimal(price) - Decimal("0.10"))
        result = tick_ingest(
            symbol=self.symbol, last=price, bid=bid, ask=price, ask_size=qty, source="test"
        )
        assert result.applied, result

    def arrange_reject(self, message: str) -> str:
        pytest.skip(
            "paper: refuses only a market order without any quote, and OMS's own risk check "
            "refuses that order first (422 risk_rejected), so paper's refusal is not reachable"
        )


class ExchangeDriver(VenueDriver):
    """The internal exchange: a counterparty account of another user trades against ours."""

    name = Venue.EXCHANGE

    def __init__(self, *, trader, client, tick, make_key_client) -> None:
        super().__init__(trader=trader, client=client, tick=tick)
        other = UserFactory(username="counterparty", role="trader")
        self.counterparty = account_with_member(user=other, broker=Venue.EXCHANGE, cash=CASH)
        RiskLimits.objects.filter(account=self.counterparty).update(allow_short=True)
        self.other_client = make_key_client(other)

    def _counter(self, *, side: str, qty: str, price: str) -> dict:
        body = {
            "account": str(self.counterparty.pk),
            "symbol": self.symbol,
            "side": side,
            "type": "limit",
            "qty": qty,
            "limit_price": price,
            "time_in_force": "day",
        }
        with transaction.atomic():  # its commit runs the exchange command
            answer = self.other_client.post(ORDERS, body, format="json")
        assert answer.status_code == 201, answer.json()
        return answer.json()

    def fill(self, order_id: str, *, qty: str, price: str, deliver: bool = True) -> None:
        # a counterparty sell of `qty` at the resting buy's price trades `qty` with it
        self._counter(side="sell", qty=qty, price=price)

    def before_close(self, *, qty: str, bid: str) -> None:
        super().before_close(qty=qty, bid=bid)
        self._counter(side="buy", qty=qty, price=bid)  # rests: the market sell meets it
