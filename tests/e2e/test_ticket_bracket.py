"""The ticket places bracket, algo and iceberg orders: the new fields reach the API (paper
broker)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from orders.models import Order
from tests.e2e.helpers import push_tick
from tests.factories import ApiKeyFactory, UserFactory, account_with_member
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT_MS = 15_000


def wait_for_legs(entry: Order, count: int) -> list[Order]:
    """The legs appear once the entry's fill has been processed by the server."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        legs = list(Order.objects.filter(parent=entry).order_by("leg_role"))
        if len(legs) >= count:
            return legs
        time.sleep(0.1)
    return list(Order.objects.filter(parent=entry).order_by("leg_role"))


@pytest.fixture
def acme_paper(asgi_server, trader):
    InstrumentFactory(symbol="ACME", exchange=ExchangeFactory(), tick_size=Decimal("0.05"))
    account = account_with_member(user=trader, name="Paper", broker="paper")
    feed_key = ApiKeyFactory.issue(user=UserFactory(username="feed", role="admin")).raw_key
    push_tick(asgi_server, feed_key, symbol="ACME", last="100.05", bid="100", ask="100.1")
    return account, feed_key


def open_ticket(page, asgi_server, account) -> None:
    page.goto(asgi_server + "/orders/ticket/")
    page.select_option("#f-account", str(account.pk))
    page.fill("#f-symbol", "ACME")
    page.check("#side-buy", force=True)
    page.select_option("#f-type", "limit")
    page.fill("#f-qty", "10")
    page.fill("#f-limit", "99.50")


def test_buy_bracket_from_the_ticket_gets_two_legs(
    asgi_server, asgi_logged_in_page, trader, acme_paper, screenshot
):
    # given the ticket with a buy limit 10 @ 99.50 and the bracket fields filled in
    account, feed_key = acme_paper
    page = asgi_logged_in_page(trader)
    open_ticket(page, asgi_server, account)
    assert page.is_hidden("#f-tp-limit")
    page.select_option("#f-class", "bracket")
    page.fill("#f-tp-limit", "105.00")
    page.fill("#f-sl-stop", "95.00")
    page.fill("#f-sl-limit", "94.50")
    page.click("#preview-btn")
    page.wait_for_selector("#verdict.ok, #verdict.bad", timeout=WAIT_MS)
    screenshot(page, "ticket_bracket_fields")

    # when it is placed and the market comes down through the limit
    page.click("#place-btn")
    page.wait_for_selector("#ticket-result a", timeout=WAIT_MS)
    entry = Order.objects.get(account=account, parent__isnull=True)
    push_tick(asgi_server, feed_key, symbol="ACME", last="99.40", bid="99.35", ask="99.45")

    # then the entry is a bracket and its two exit legs carry the prices typed in the ticket
    assert entry.order_class == "bracket"
    legs = wait_for_legs(entry, 2)
    by_role = {leg.leg_role: leg for leg in legs}
    assert set(by_role) == {"take_profit", "stop_loss"}
    assert by_role["take_profit"].limit_price == Decimal("105.00")
    assert by_role["stop_loss"].stop_price == Decimal("95.00")
    assert by_role["stop_loss"].limit_price == Decimal("94.50")


def test_bracket_without_exit_prices_is_stopped_in_the_ticket(
    asgi_server, asgi_logged_in_page, trader, acme_paper
):
    # given a bracket with no take-profit / stop-loss prices
    account, _ = acme_paper
    page = asgi_logged_in_page(trader)
    open_ticket(page, asgi_server, account)
    page.select_option("#f-class", "bracket")

    # when the trader tries to place it
    page.click("#place-btn")

    # then the ticket names the missing fields and nothing is sent
    page.wait_for_selector('[data-error-for="take_profit"] li', timeout=WAIT_MS)
    assert page.is_visible('[data-error-for="stop_loss"] li')
    assert not Order.objects.filter(account=account).exists()


def test_twap_from_the_ticket_becomes_an_algo_parent(
    asgi_server, asgi_logged_in_page, trader, acme_paper
):
    # given the ticket with TWAP over 30 minutes in 60-second slices
    account, _ = acme_paper
    page = asgi_logged_in_page(trader)
    open_ticket(page, asgi_server, account)
    page.select_option("#f-algo", "twap")
    page.fill("#f-horizon", "30")
    page.select_option("#f-horizon-unit", "60")
    page.fill("#f-interval", "60")

    # when it is placed
    page.click("#place-btn")
    page.wait_for_selector("#ticket-result a", timeout=WAIT_MS)

    # then the order is a parent with its algorithm (horizon sent in seconds)
    parent = Order.objects.get(account=account, parent__isnull=True)
    assert parent.algo["type"] == "twap"
    assert parent.algo["horizon_secs"] == 1800
    assert parent.algo["interval_secs"] == 60


def test_iceberg_from_the_ticket_posts_display_qty_from_its_one_field(
    asgi_server, asgi_logged_in_page, trader, acme_paper, screenshot
):
    # given the ticket with a buy limit 10 @ 99.50: one display-qty field, shown for Iceberg
    account, _ = acme_paper
    page = asgi_logged_in_page(trader)
    open_ticket(page, asgi_server, account)
    assert page.locator("input[name=display_qty]").count() == 1
    assert page.is_hidden("#f-display")
    page.select_option("#f-algo", "iceberg")
    page.fill("#f-display", "2")
    page.click("#preview-btn")
    page.wait_for_selector("#verdict.ok, #verdict.bad", timeout=WAIT_MS)
    page.click("details summary")
    screenshot(page, "ticket_iceberg")

    # when it is placed
    page.click("#place-btn")
    page.wait_for_selector("#ticket-result a", timeout=WAIT_MS)

    # then the order carries the contract's display_qty (API.md), not an algo
    order = Order.objects.get(account=account, parent__isnull=True)
    assert order.display_qty == Decimal("2")
    assert not order.algo
