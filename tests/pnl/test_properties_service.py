"""Property tests over random fill sequences booked through the Django service and read
back through the API: incremental == rebuild; realized + unrealized − fees == the
cash-flow PnL marked to the same price; qty == signed sum of fills; cash moved ==
−Σ signed notional × multiplier − fees.

Values stay within what every supported database stores exactly (prices on a paisa grid,
2-decimal quantities, sums under 15 significant digits: SQLite's decimal limit).
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pnl.models import Position
from pnl.services import fill_record, position_rebuild
from tests.factories import account_with_member
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory

pytestmark = pytest.mark.django_db

START_CASH = Decimal("1000000")
SERVICE_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_ids = itertools.count(1)

quantities = st.one_of(
    st.integers(1, 500).map(Decimal),
    st.integers(1, 9_999).map(lambda n: Decimal(n).scaleb(-2)),
)
prices = st.integers(1, 200_000).map(lambda paise: Decimal(paise).scaleb(-2))
fees = st.one_of(st.just(Decimal(0)), st.integers(0, 5_000).map(lambda p: Decimal(p).scaleb(-2)))
fills = st.lists(st.tuples(st.sampled_from(["buy", "sell"]), quantities, prices, fees), max_size=30)


@pytest.fixture
def instruments(db):
    sim = ExchangeFactory()
    return {
        multiplier: InstrumentFactory(
            symbol=f"PROP{index}", exchange=sim, tick_size=Decimal("0.01"), multiplier=multiplier
        )
        for index, multiplier in enumerate([Decimal(1), Decimal(50), Decimal("0.5")])
    }


@SERVICE_SETTINGS
@given(
    sequence=fills,
    multiplier=st.sampled_from([Decimal(1), Decimal(50), Decimal("0.5")]),
    mark=prices,
)
def test_booked_positions_obey_the_ledger_identities(
    sequence, multiplier, mark, instruments, trader, make_key_client, quote
):
    # given a fresh account and a random fill sequence booked one by one
    instrument = instruments[multiplier]
    account = account_with_member(user=trader, cash=START_CASH, name=f"P{next(_ids)}")
    start = datetime.now(UTC) - timedelta(hours=1)
    for n, (side, qty, price, fee) in enumerate(sequence):
        fill_record(
            order_id=uuid.uuid4(),
            account_id=account.pk,
            instrument_id=instrument.pk,
            symbol=instrument.symbol,
            side=side,
            qty=qty,
            price=price,
            fee=fee,
            ts=start + timedelta(seconds=n),
            report_id=f"prop-{next(_ids)}",
        )
    quote(instrument.symbol, str(mark))
    signed_qty = sum((q if s == "buy" else -q for s, q, _, _ in sequence), Decimal(0))
    cash_flow = -sum(
        ((q if s == "buy" else -q) * p * multiplier + f for s, q, p, f in sequence), Decimal(0)
    )

    # then the position's qty is the signed sum of the fills
    assert Position.objects.filter(account=account).first() is not None or not sequence
    client = make_key_client(trader)
    listed = client.get(f"/api/v1/positions?account={account.pk}").json()["results"]
    position = next((row for row in listed if row["symbol"] == instrument.symbol), None)
    if sequence:
        assert position is not None  # traded today: listed even when flat
        assert Decimal(position["qty"]) == signed_qty
        # and realized + unrealized − fees == cash-flow PnL marked to the same price
        realized = Decimal(position["realized_pnl"])
        unrealized = Decimal(position["unrealized_pnl"])
        assert realized + unrealized - Decimal(position["fees"]) == (
            cash_flow + signed_qty * mark * multiplier
        )
        assert Decimal(position["market_value"]) == signed_qty * mark * multiplier
    report = client.get(f"/api/v1/pnl?account={account.pk}").json()
    assert Decimal(report["net_pnl"]) == cash_flow + signed_qty * mark * multiplier

    # and the account's cash moved by exactly −Σ signed notional × multiplier − fees
    account.refresh_from_db()
    assert account.cash - START_CASH == cash_flow

    # and a full rebuild from the fills finds nothing to change
    assert position_rebuild(account_id=account.pk, write=False).identical
