"""instrument_get_current (marketdata/selectors.py): instruments kept by the process while
no instrument or exchange changed; any saved or deleted change is read at once after it
commits (orders read the instrument on every placement)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketdata.selectors import instrument_get_current
from oms_site.errors import NotFound
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared_cache(settings):
    settings.REDIS_URL = "redis://memo-test"  # the memo is on where a shared cache is


def test_an_unchanged_instrument_is_read_once(shared_cache):
    # given an instrument read once
    InstrumentFactory(symbol="ACME", exchange=ExchangeFactory())
    instrument_get_current(symbol="ACME")

    # when it is read again
    with CaptureQueriesContext(connection) as queries:
        again = instrument_get_current(symbol="acme")

    # then no query was made, and the caller has its own instance
    assert again.symbol == "ACME" and len(queries.captured_queries) == 0
    assert again is not instrument_get_current(symbol="ACME")


def test_a_saved_change_is_read_as_soon_as_it_commits(
    shared_cache, django_capture_on_commit_callbacks
):
    # given an instrument read (and kept) while tradable
    instrument = InstrumentFactory(symbol="ACME", exchange=ExchangeFactory())
    assert instrument_get_current(symbol="ACME").tradable is True

    # when it is made untradable with a new tick size, and that commits
    with django_capture_on_commit_callbacks(execute=True):
        instrument.tradable = False
        instrument.tick_size = Decimal("0.10")
        instrument.save()

    # then the next read shows the change
    current = instrument_get_current(symbol="ACME")
    assert current.tradable is False and current.tick_size == Decimal("0.10")


def test_a_change_of_its_exchange_and_a_deletion_are_read_at_once(
    shared_cache, django_capture_on_commit_callbacks
):
    # given an instrument read (and kept)
    exchange = ExchangeFactory()
    instrument = InstrumentFactory(symbol="ACME", exchange=exchange)
    instrument_get_current(symbol="ACME")

    # when its exchange is renamed, then the instrument deleted
    with django_capture_on_commit_callbacks(execute=True):
        exchange.name = "Renamed"
        exchange.save()
    renamed = instrument_get_current(symbol="ACME").exchange.name
    with django_capture_on_commit_callbacks(execute=True):
        instrument.delete()

    # then each is seen by the next read
    assert renamed == "Renamed"
    with pytest.raises(NotFound):
        instrument_get_current(symbol="ACME")
