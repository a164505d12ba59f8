"""Notifications in a real browser on the real ASGI app: a dealer and a trader share an
account; an order one places fills, and the other's bell counts it without a reload; a
kill switch engaged meanwhile shows its banner on the open page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client

from accounts import risk_services
from accounts.models import AccountMembership
from notifications.models import Notification
from tests.e2e.conftest import DEFAULT_TIMEOUT_MS, VIEWPORT
from tests.e2e.helpers import api_post, push_tick, run_outside_loop
from tests.factories import ApiKeyFactory, UserFactory, account_with_member
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT_MS = 15_000


def open_as(browser, base_url: str, user, path: str):
    """A page in its own browser profile (two people, two sessions), live stream open."""
    context = browser.new_context(base_url=base_url, viewport=VIEWPORT)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    client = Client()
    client.force_login(user)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": base_url,
            }
        ]
    )
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))
    page.goto(path)
    page.wait_for_selector("#live-status[data-state=open]", timeout=WAIT_MS)
    return page


def test_a_fill_by_one_member_rings_the_others_bell_without_a_reload(
    browser, asgi_server, screenshot
):
    # given a trader and a dealer on one paper account, ACME quoted
    InstrumentFactory(symbol="ACME", exchange=ExchangeFactory(), tick_size=Decimal("0.01"))
    trader = UserFactory(username="tess", role="trader")
    dealer = UserFactory(username="dana", role="dealer")
    account = account_with_member(user=trader, name="Main", broker="paper", cash=Decimal("1e6"))
    AccountMembership.objects.create(user=dealer, account=account, role="trade")
    admin = UserFactory(username="feed", role="admin")
    push_tick(
        asgi_server,
        ApiKeyFactory.issue(user=admin).raw_key,
        symbol="ACME",
        last="100",
        bid="99.95",
        ask="100.05",
    )
    dealer_page = open_as(browser, asgi_server, dealer, "/orders/")
    assert dealer_page.locator("#notif-count").is_hidden()

    # when the trader buys at market through the API and the paper broker fills it
    status, order = api_post(
        asgi_server,
        "/api/v1/orders",
        {
            "account": str(account.pk),
            "symbol": "ACME",
            "side": "buy",
            "type": "market",
            "qty": "5",
            "time_in_force": "day",
        },
        ApiKeyFactory.issue(user=trader).raw_key,
    )
    assert status == 201

    # then the dealer's bell counts it, and a toast says what happened, with no reload
    dealer_page.wait_for_function(
        "() => { const b = document.getElementById('notif-count');"
        " return b && !b.hidden && b.textContent === '1'; }",
        timeout=WAIT_MS,
    )
    toast = dealer_page.locator(".toast", has_text="Filled: Buy 5 ACME")
    toast.wait_for(timeout=WAIT_MS)
    note = Notification.objects.get(user=dealer, kind="order.filled")
    assert note.data["order"]["id"] == order["id"]
    screenshot(dealer_page, "notifications_bell_live")

    # and when the back office engages the account's kill switch, the banner appears live
    run_outside_loop(
        risk_services.account_kill_switch_set, actor=admin, account=account, engaged=True
    )
    dealer_page.wait_for_selector("#kill-switch-banner", timeout=WAIT_MS)
    assert "Main" in dealer_page.locator("#kill-switch-banner").inner_text()
    run_outside_loop(
        risk_services.account_kill_switch_set, actor=admin, account=account, engaged=False
    )
    dealer_page.wait_for_selector("#kill-switch-banner", state="detached", timeout=WAIT_MS)
    assert dealer_page.js_errors == []
