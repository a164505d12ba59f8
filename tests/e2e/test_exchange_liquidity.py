"""The seeded demo's internal exchange has a market maker: an exchange account's market
order fills, the Book page shows depth, and an order the venue canceled says why in the
blotter row and on its page."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from accounts.models import TradingAccount, User
from execution.exchange.shard import shard_states_reset
from marketdata.services import tick_ingest
from orders import services
from orders.management.commands.run_market_maker import MarketMaker
from orders.market_maker import MakerConfig

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _seeded_demo_with_two_market_orders() -> dict[str, str]:
    shard_states_reset()
    call_command("seed_demo", stdout=io.StringIO())
    # ACME priced by the simulator and quoted on the exchange by the market maker
    assert tick_ingest(
        symbol="ACME", last="1250", bid="1249.95", ask="1250.05", volume=1, source="test"
    ).applied
    MarketMaker(MakerConfig()).round(now=0)
    # GLOBEX gets its first price after that round: nobody quotes it on the exchange yet
    assert tick_ingest(symbol="GLOBEX", last="842.50", volume=1, source="test").applied
    trader = User.objects.get(username="trader")
    account = TradingAccount.objects.get(name="Trader — Exchange")
    ids = {}
    for symbol in ("ACME", "GLOBEX"):
        ids[symbol] = str(
            services.order_place(
                user=trader,
                account_id=account.pk,
                symbol=symbol,
                side="buy",
                order_type="market",
                qty=Decimal("10"),
            ).order.pk
        )
    connection.close()
    return ids


@pytest.fixture
def market_orders(browser):
    # Outside Playwright's thread: its event loop would refuse the synchronous live pushes.
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(_seeded_demo_with_two_market_orders).result()
    shard_states_reset()


@pytest.mark.parametrize("width", [1440, 390])
def test_exchange_orders_fill_against_the_maker_and_a_cancel_says_why(
    market_orders, logged_in_page, screenshot, width
):
    trader = User.objects.get(username="trader")
    page = logged_in_page(trader)
    page.set_viewport_size({"width": width, "height": 900})

    page.goto("/orders/?tab=all")
    filled = page.locator(f'tr[data-id="{market_orders["ACME"]}"] [data-col="status"]')
    canceled = page.locator(f'tr[data-id="{market_orders["GLOBEX"]}"] [data-col="status"]')
    filled.wait_for()
    assert "filled" in filled.inner_text()
    assert "canceled" in canceled.inner_text()
    assert "no more liquidity" in canceled.locator(".reason").inner_text()
    screenshot(page, f"blotter-cancel-reason-{width}")

    page.goto(f"/orders/{market_orders['GLOBEX']}/")
    page.wait_for_selector("#o-kv dt")
    assert "Canceled because" in page.locator("#o-kv").inner_text()
    assert "no more liquidity" in page.locator("#o-kv").inner_text()

    page.goto("/orderbook/ACME/")
    # the maker's best bid and ask around 1250 (level 0: ∓ 0.10 %; 10 of the ask were bought)
    assert page.locator("#best-bid").get_attribute("data-value") == "1248.75"
    assert page.locator("#best-ask").get_attribute("data-value") == "1251.25"
    assert page.locator("#bids-body tr").count() == 2
    screenshot(page, f"orderbook-market-maker-{width}")
    assert page.js_errors == []
