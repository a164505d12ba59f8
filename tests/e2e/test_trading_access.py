"""Someone who may not trade sees no trading controls: no Ticket / GTT / Schedules in the
menu, no Buy / Sell on an instrument, no "New order"; the trading pages, reached directly,
say plainly that they have no account to trade instead of showing empty forms."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.factories import MembershipFactory, UserFactory, account_with_member
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TRADING_MENU = ["Ticket", "GTT", "Schedules", "Strategies"]
NO_ACCOUNT = "You have no account you may trade on"


@pytest.fixture
def accounts(trader):
    InstrumentFactory(symbol="ACME", exchange=ExchangeFactory(), tick_size=Decimal("0.05"))
    own = account_with_member(user=trader, name="Own paper")
    viewer = UserFactory(username="watcher", role="viewer")
    MembershipFactory(user=viewer, account=own, role="view")
    return {"trader": trader, "viewer": viewer}


def menu(page) -> list[str]:
    return [text.strip() for text in page.locator("nav.mainnav a").all_inner_texts()]


def shoot(page, screenshot, name: str) -> None:
    for label, width, height in (("1440", 1440, 900), ("390", 390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        screenshot(page, f"{name}_{label}")


def test_a_viewer_sees_no_trading_controls_and_pages_say_why(accounts, logged_in_page, screenshot):
    page = logged_in_page(accounts["viewer"])
    # the menu has no trading pages
    page.goto("/orders/")
    assert not set(TRADING_MENU) & set(menu(page))
    assert "Orders" in menu(page)
    assert page.locator("a", has_text="New order").count() == 0
    # the instrument page has no Buy / Sell
    page.goto("/instruments/ACME/")
    assert page.locator("a.btn-buy, a.btn-sell").count() == 0
    # the ticket, reached directly, says so
    page.goto("/orders/ticket/")
    assert NO_ACCOUNT in page.inner_text("main")
    assert page.locator("#ticket").count() == 0
    # the GTT and schedules pages keep their lists but show no form with live buttons
    for path, form, name in (
        ("/gtt/", "#gtt-form", "gtt_viewer"),
        ("/schedules/", "#sched-form", "schedules_viewer"),
    ):
        page.goto(path)
        assert NO_ACCOUNT in page.inner_text("#no-trading-account")
        assert page.is_hidden(form)
        assert page.locator("button[type=submit]:visible", has_text="Create").count() == 0
        shoot(page, screenshot, name)
    assert page.js_errors == []


def test_a_trader_keeps_every_trading_control(accounts, logged_in_page):
    page = logged_in_page(accounts["trader"])
    page.goto("/instruments/ACME/")
    assert set(TRADING_MENU) <= set(menu(page))
    assert page.locator("a.btn-buy").count() == 1 and page.locator("a.btn-sell").count() == 1
    page.goto("/gtt/")
    assert page.is_visible("#gtt-form") and page.locator("#no-trading-account").count() == 0
    page.goto("/schedules/")
    assert page.is_visible("#sched-form")
    assert page.js_errors == []
