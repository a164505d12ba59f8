"""The order ticket sends only what the chosen type shows, keeps its field errors on screen
until the trader changes that input, and speaks in field labels and plain states."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.models import Order
from tests.e2e.helpers import push_tick, record_posts
from tests.factories import ApiKeyFactory, UserFactory, account_with_member
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT_MS = 15_000
WIDE = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def acme_paper(asgi_server, trader):
    InstrumentFactory(symbol="ACME", exchange=ExchangeFactory(), tick_size=Decimal("0.05"))
    account = account_with_member(user=trader, name="Paper", broker="paper")
    feed_key = ApiKeyFactory.issue(user=UserFactory(username="feed", role="admin")).raw_key
    push_tick(asgi_server, feed_key, symbol="ACME", last="100.05", bid="100", ask="100.1")
    return account


@pytest.fixture
def ticket(asgi_server, asgi_logged_in_page, trader, acme_paper):
    """The ticket for a buy of 10 ACME, recording the bodies of order POSTs it sends."""
    page = asgi_logged_in_page(trader)
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))
    page.sent = record_posts(page, "/api/v1/orders")
    page.goto(asgi_server + "/orders/ticket/")
    page.select_option("#f-account", str(acme_paper.pk))
    page.fill("#f-symbol", "ACME")
    page.dispatch_event("#f-symbol", "change")
    page.fill("#f-qty", "10")
    return page


def place(page) -> dict:
    """Press Buy, wait for the order to be placed, and return the body the ticket sent."""
    page.click("#place-btn")
    page.wait_for_selector("#ticket-result a", timeout=WAIT_MS)
    return page.sent[-1]


def shoot(page, screenshot, name: str) -> None:
    for label, size in (("1440", WIDE), ("390", PHONE)):
        page.set_viewport_size(size)
        screenshot(page, f"{name}_{label}")
    page.set_viewport_size(WIDE)


def test_a_price_typed_then_hidden_by_the_type_is_not_sent(ticket, acme_paper, screenshot):
    page = ticket
    # given a limit price and a stop price typed for a stop-limit order
    page.select_option("#f-type", "stop_limit")
    page.fill("#f-limit", "99.50")
    page.fill("#f-stop", "99.00")
    # when the trader switches to Market (both fields disappear) and presses Buy
    page.select_option("#f-type", "market")
    assert page.is_hidden("#f-limit") and page.is_hidden("#f-stop")
    body = place(page)
    # then the order is placed, without the hidden prices
    assert "limit_price" not in body and "stop_price" not in body
    order = Order.objects.get(account=acme_paper)
    assert order.type == "market" and order.limit_price is None and order.stop_price is None
    # and the answer is in words: a plain state, no API names
    verdict = page.inner_text("#verdict")
    assert "Placed: buy 10 ACME" in verdict and "_" not in verdict
    toast = page.locator(".toast").last.inner_text()
    assert "_" not in toast and "(" in toast
    shoot(page, screenshot, "ticket_market_sent")
    assert page.js_errors == []


def test_stop_and_trail_fields_of_another_type_are_not_sent(ticket, acme_paper):
    page = ticket
    # given a trail typed for a trailing stop and a stop price for a stop
    page.select_option("#f-type", "trailing_stop")
    page.fill("#f-trail", "2.00")
    page.select_option("#f-type", "stop")
    page.fill("#f-stop", "101.00")
    # when the trader settles on a limit order
    page.select_option("#f-type", "limit")
    page.fill("#f-limit", "99.50")
    body = place(page)
    # then only the limit price went
    assert body["limit_price"] == "99.50"
    assert not {"stop_price", "trail_price", "trail_percent"} & set(body)
    assert Order.objects.get(account=acme_paper).stop_price is None


def test_an_oto_entry_sends_the_one_exit_leg_filled_in(ticket, acme_paper):
    page = ticket
    page.fill("#f-limit", "99.50")
    # given an OTO with only a stop-loss leg
    page.select_option("#f-class", "oto")
    page.fill("#f-sl-stop", "95.00")
    # when it is placed
    body = place(page)
    # then the entry carries that leg alone
    assert body["order_class"] == "oto" and "take_profit" not in body
    assert body["stop_loss"] == {"stop_price": "95.00"}


def test_field_errors_stay_until_their_input_changes(ticket, screenshot):
    page = ticket
    # given a quantity that is not a number and a limit price off the tick grid
    page.fill("#f-qty", "ten")
    page.fill("#f-limit", "99.53")
    # when the trader presses Buy (the price field loses focus, which re-checks the form)
    page.click("#place-btn")
    page.wait_for_timeout(1200)  # well past the re-check the blur schedules (350 ms)
    # then both errors are still shown, in words, and the panel does not call them empty
    assert page.inner_text('[data-error-for="qty"]') == "Enter a positive quantity."
    assert "tick size 0.05" in page.inner_text('[data-error-for="limit_price"]')
    verdict = page.inner_text("#verdict")
    assert "Still needed" not in verdict and "_" not in verdict
    assert page.sent == []
    shoot(page, screenshot, "ticket_errors_stay")
    # when the quantity is corrected, its error goes and the price's error stays
    page.fill("#f-qty", "10")
    page.wait_for_timeout(600)
    assert page.inner_text('[data-error-for="qty"]') == ""
    assert "tick size" in page.inner_text('[data-error-for="limit_price"]')
    # and the panel names what is still wrong by its label
    assert "Limit price" in page.inner_text("#verdict")
    assert page.js_errors == []


def test_a_server_refusal_names_the_field_by_its_label(ticket):
    page = ticket
    page.fill("#f-limit", "99.50")
    # given good-till-date in the past (only the server knows the clock)
    page.select_option("#f-tif", "gtd")
    page.fill("#f-expire", "2020-01-02T10:00")
    page.click("#place-btn")
    page.wait_for_selector('[data-error-for="expire_at"] li', timeout=WAIT_MS)
    # then the panel says "Good till", not expire_at
    verdict = page.inner_text("#verdict")
    assert verdict.startswith("Good till:") and "expire_at" not in verdict
