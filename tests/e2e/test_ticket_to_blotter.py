"""Issue 4's browser scenario on the real ASGI app: place an order from the ticket, watch it
work and then fill in the blotter without a reload (paper broker, ticks from a feed key)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.models import Order
from tests.e2e.helpers import push_tick
from tests.factories import ApiKeyFactory, UserFactory, account_with_member
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT_MS = 15_000


def wait_status(page, order_id: str, status: str) -> None:
    page.wait_for_function(
        "([id, status]) => { const td = document.querySelector("
        '`tr[data-id="${id}"] [data-col="status"]`); '
        "return td && td.textContent.replaceAll('_', ' ').includes(status.replaceAll('_', ' ')); }",
        arg=[order_id, status],
        timeout=WAIT_MS,
    )


def test_order_placed_from_the_ticket_fills_in_the_open_blotter(
    asgi_server, asgi_logged_in_page, trader, screenshot
):
    # given a paper account, ACME quoted 100.00 / 100.10, and the blotter open in one tab
    InstrumentFactory(symbol="ACME", exchange=ExchangeFactory(), tick_size=Decimal("0.05"))
    account = account_with_member(user=trader, name="Paper", broker="paper")
    feed_key = ApiKeyFactory.issue(user=UserFactory(username="feed", role="admin")).raw_key
    push_tick(asgi_server, feed_key, symbol="ACME", last="100.05", bid="100", ask="100.1")
    blotter = asgi_logged_in_page(trader)
    blotter.goto(asgi_server + "/orders/")
    blotter.wait_for_selector("#live-status[data-state=open]", timeout=WAIT_MS)

    # when the trader places a buy limit 10 @ 99.50 from the ticket in another tab
    ticket = blotter.context.new_page()
    ticket.goto(asgi_server + "/orders/ticket/")
    ticket.select_option("#f-account", str(account.pk))
    ticket.fill("#f-symbol", "ACME")
    ticket.check("#side-buy", force=True)
    ticket.select_option("#f-type", "limit")
    ticket.fill("#f-qty", "10")
    ticket.fill("#f-limit", "99.50")
    ticket.click("#place-btn")
    ticket.wait_for_selector("#ticket-result a", timeout=WAIT_MS)
    order = Order.objects.get(account=account)

    # then the blotter shows it working without a reload
    wait_status(blotter, str(order.pk), "new")

    # and when the market comes down through the limit, it shows it filled
    push_tick(asgi_server, feed_key, symbol="ACME", last="99.40", bid="99.35", ask="99.45")
    wait_status(blotter, str(order.pk), "filled")
    order.refresh_from_db()
    assert order.status == "filled"
    assert order.filled_qty == Decimal("10")
    assert order.avg_fill_price <= Decimal("99.50")  # at the limit or better
    screenshot(blotter, "blotter_live_fill")
    # and the ticket's result badge followed the order too (no reload)
    ticket.wait_for_function(
        "() => document.querySelector('#ticket-result [data-role=placed-status]')"
        ".textContent === 'Filled'",
        timeout=WAIT_MS,
    )
