"""Fixtures for the pnl tests: instruments on the always-open SIM venue, accounts, a fill
booker going through `pnl.services.fill_record`, quotes through the one tick path, and the
registry wiring the lead adds to OrdersConfig.ready() (pnl/registry.py)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from pnl import registry
from tests.factories import UserFactory, account_with_member
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory

_report_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_venue_state():
    """Per-process state (shard books, broker token buckets, quote throttle) between tests."""
    from execution.exchange.shard import shard_states_reset
    from execution.services import broker_callers_reset
    from marketdata.push import reset_quote_publisher

    shard_states_reset()
    broker_callers_reset()
    reset_quote_publisher()
    yield
    shard_states_reset()
    broker_callers_reset()
    reset_quote_publisher()


@pytest.fixture(autouse=True)
def lead_wiring():
    """Exactly what OrdersConfig.ready() registers (see pnl/registry.py); restored after."""
    from execution.services import broker_positions
    from notifications.services import notify, publish
    from orders.core.cancel import order_cancel_all
    from orders.core.serializers import OrderSerializer
    from orders.services import order_place

    saved = registry.hooks_snapshot()
    registry.register_position_publisher(publish)
    registry.register_order_placer(
        place=order_place,
        serialize=lambda order: OrderSerializer(order).data,
        cancel_open=order_cancel_all,
    )
    registry.register_position_source(broker_positions)
    registry.register_alert_notifier(notify)
    yield
    registry.hooks_restore(saved)


@pytest.fixture
def sim(db):
    return ExchangeFactory()


@pytest.fixture
def acme(sim):
    return InstrumentFactory(symbol="ACME", exchange=sim, tick_size=Decimal("0.05"))


@pytest.fixture
def foo(sim):
    return InstrumentFactory(symbol="FOO", exchange=sim, tick_size=Decimal("0.05"))


@pytest.fixture
def fut(sim):
    """A future with a contract multiplier of 50."""
    return InstrumentFactory(
        symbol="NIFTYFUT", exchange=sim, tick_size=Decimal("0.05"), multiplier=Decimal("50")
    )


@pytest.fixture
def account(trader):
    return account_with_member(user=trader, name="Main", cash=Decimal("1000000"))


@pytest.fixture
def other_user():
    return UserFactory(username="mallory", role="trader")


@pytest.fixture
def client(make_key_client, trader):
    return make_key_client(trader)


@pytest.fixture
def book():
    """book(account, instrument, side, qty, price, fee="0", ts=None, tag="") → Fill, through
    the service orders calls for every fill report."""
    from pnl.services import fill_record

    def _book(account, instrument, side, qty, price, fee="0", ts=None, tag="", order_id=None):
        return fill_record(
            order_id=order_id or uuid.uuid4(),
            account_id=account.pk,
            instrument_id=instrument.pk,
            symbol=instrument.symbol,
            side=side,
            qty=Decimal(qty),
            price=Decimal(price),
            fee=Decimal(fee),
            liquidity="taker",
            ts=ts or datetime.now(UTC),
            report_id=f"test-report-{next(_report_ids)}",
            tag=tag,
        )

    return _book


@pytest.fixture
def quote():
    """quote(symbol, last, bid=None, ask=None, ts=None): a tick through marketdata's one tick
    path (a past `ts` must come before any later tick of the symbol, or it is stale)."""
    from marketdata.services import tick_ingest

    def _quote(symbol: str, last: str, bid: str | None = None, ask: str | None = None, ts=None):
        result = tick_ingest(
            symbol=symbol, last=last, bid=bid, ask=ask, volume=1, ts=ts, source="test"
        )
        assert result.applied, result
        return result

    return _quote


@pytest.fixture
def submit(django_capture_on_commit_callbacks):
    """`with submit(): ...` runs what was deferred to commit (order submission, pushes)."""

    def _submit():
        return django_capture_on_commit_callbacks(execute=True)

    return _submit


def position_of(client, account, symbol):
    body = client.get(f"/api/v1/positions?account={account.pk}&symbol={symbol}").json()
    rows = [row for row in body["results"] if row["symbol"] == symbol]
    return rows[0] if rows else None
