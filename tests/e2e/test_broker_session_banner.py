"""The expired Kite session banner in a real browser, on a phone and a desktop: on screen at
the top of the page, naming the account, not widening the page; its "Log in to Kite" link
opens the account's connection page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.crypto import encrypt_credentials
from accounts.models import BrokerConnection
from execution.connections import connection_state_set
from tests.e2e.helpers import run_outside_loop
from tests.factories import account_with_member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _kite_account(trader):
    """Logged in until tomorrow; Kite itself unreachable (nothing listens on port 9), so
    pages that read its funds change nothing about the session."""
    tomorrow = (timezone.now() + timedelta(days=1)).isoformat()
    credentials = {
        "api_key": "k",
        "api_secret": "s",
        "access_token": "t",
        "access_token_expires_at": tomorrow,
    }
    connection = BrokerConnection.objects.create(
        name="Kite",
        broker="kite",
        credentials_encrypted=encrypt_credentials(credentials),
        settings={"root": "http://127.0.0.1:9", "timeout_s": 0.5},
    )
    return account_with_member(user=trader, broker="kite", connection=connection, name="Zerodha")


@pytest.mark.parametrize("width", [1440, 390])
def test_the_banner_links_to_the_kite_login(width, trader, logged_in_page, screenshot):
    # given the trader's Kite account whose session expired (told through the one writer)
    account = run_outside_loop(_kite_account, trader=trader)
    run_outside_loop(
        connection_state_set,
        account_id=str(account.pk),
        state="session_expired",
        detail="Kite session expired: the daily reset.",
    )
    page = logged_in_page(trader)
    page.set_viewport_size({"width": width, "height": 900})
    # when the trader opens a page
    page.goto("/orders/")
    # then the banner is on screen, names the account, and the page is no wider than the screen
    banner = page.locator("#broker-session-banner")
    assert banner.is_visible()
    assert "Kite session expired for Zerodha" in banner.inner_text()
    box = banner.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width
    assert page.evaluate("() => document.documentElement.scrollWidth") == width
    screenshot(page, f"broker_session_banner_{width}")
    # and its link opens the account's connection page
    banner.get_by_role("link", name="Log in to Kite").click()
    page.wait_for_url(f"**/trading-accounts/{account.pk}/broker/")


def test_the_banner_comes_and_goes_live_on_an_open_page(browser, asgi_server, trader):
    from tests.e2e.test_notifications_live import WAIT_MS, open_as

    # given the trader's Kite account, and a page of theirs open with its live stream
    account = run_outside_loop(_kite_account, trader=trader)
    page = open_as(browser, asgi_server, trader, "/orders/")
    assert page.locator("#broker-session-banner").count() == 0
    # when the account's Kite session expires, then the banner appears without a reload
    run_outside_loop(
        connection_state_set,
        account_id=str(account.pk),
        state="session_expired",
        detail="Kite session expired: the daily reset.",
    )
    page.wait_for_selector("#broker-session-banner", timeout=WAIT_MS)
    assert "Kite session expired for Zerodha" in page.locator("#broker-session-banner").inner_text()
    # and when someone logs in again, it goes
    run_outside_loop(
        connection_state_set,
        account_id=str(account.pk),
        state="connected",
        detail="Logged in to Kite.",
    )
    page.wait_for_selector("#broker-session-banner", state="detached", timeout=WAIT_MS)
    assert page.js_errors == []
