"""The watchlist in a real browser on the real ASGI app: a tick pushed through the API
moves the row's price without a reload (over the page's shared live stream)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketdata.models import WatchlistItem
from tests.e2e.helpers import push_tick
from tests.factories import ApiKeyFactory, UserFactory
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT_MS = 15_000
LAST = 'tr[data-symbol="ACME"] [data-field="last"]'


def test_watchlist_price_moves_when_a_tick_arrives(
    asgi_server, asgi_logged_in_page, trader, screenshot
):
    # given ACME on the trader's watchlist, last 101, and the watchlist open with a live stream
    acme = InstrumentFactory(symbol="ACME", exchange=ExchangeFactory(), tick_size=Decimal("0.01"))
    WatchlistItem.objects.create(user=trader, instrument=acme, position=0)
    feed_key = ApiKeyFactory.issue(user=UserFactory(username="feed", role="admin")).raw_key
    push_tick(asgi_server, feed_key, symbol="ACME", last="101", bid="100.99", ask="101.01")
    page = asgi_logged_in_page(trader)
    page.goto(asgi_server + "/watchlist/")
    page.wait_for_selector("#live-status[data-state=open]", timeout=WAIT_MS)
    assert page.text_content(LAST) == "101.00"  # the tick's precision (0.01)

    # when a feed pushes a new tick
    push_tick(asgi_server, feed_key, symbol="ACME", last="102.5", bid="102.49", ask="102.51")

    # then the row shows the new last price without a reload
    page.wait_for_function(
        "(sel) => document.querySelector(sel).textContent === '102.50'",
        arg=LAST,
        timeout=WAIT_MS,
    )
    screenshot(page, "watchlist_live")
