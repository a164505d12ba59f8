"""Watchlist and instrument pages."""

from __future__ import annotations

import pytest
from django.test import Client

from marketdata import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(trader):
    client = Client()
    client.force_login(trader)
    return client


def test_pages_need_login(client, acme):
    assert client.get("/watchlist/").status_code == 302
    assert client.get("/instruments/ACME/").status_code == 302


def test_watchlist_page_shows_the_users_symbols_with_quotes(browser, trader, acme, globex):
    services.watchlist_add(user=trader, symbol="ACME")
    services.tick_ingest(symbol="ACME", last="101.25", bid="101.2", ask="101.3")
    page = browser.get("/watchlist/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-symbol="ACME"' in html and "101.25" in html
    assert 'data-symbol="GLOBEX"' not in html
    assert "js/marketdata/watchlist.js" in html


def test_empty_watchlist_suggests_symbols(browser, sim_exchange):
    from tests.marketdata.factories import InstrumentFactory

    InstrumentFactory(symbol="SIMX", exchange=sim_exchange, simulate=True)
    html = browser.get("/watchlist/").content.decode()
    assert "Your watchlist is empty" in html and 'data-add="SIMX"' in html


def test_instrument_page_has_the_chart_and_quote_panel(browser, acme):
    services.tick_ingest(symbol="ACME", last="99.5")
    page = browser.get("/instruments/ACME/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "vendor/lightweight-charts/lightweight-charts.js" in html
    assert 'id="chart"' in html and "/api/v1/market-data/ACME/bars" in html
    assert "99.5" in html and "Market open" in html


def test_unknown_instrument_page_is_404(browser, sim_exchange):
    assert browser.get("/instruments/NOPE/").status_code == 404
