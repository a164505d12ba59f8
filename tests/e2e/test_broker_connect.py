"""A trader connects an Alpaca account (the in-test connected broker) through its connect
page, tests the connection and sees the answer in words and the status badge turn green."""

from __future__ import annotations

import pytest

from accounts.models import TradingAccount
from execution.protocol import ConnectionCheck

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_connect_alpaca_then_test_the_connection(
    connected_broker, logged_in_page, trader, screenshot
):
    page = logged_in_page(trader)
    # Given the accounts page with its "Connect Alpaca" link
    page.goto("/trading-accounts/")
    page.get_by_role("link", name="Connect Alpaca").click()
    # When the trader fills in a name and the key (the URLs are prefilled) and connects
    assert page.get_by_label("Trading API URL").input_value() == "https://paper-api.alpaca.markets"
    page.get_by_label("Account name").fill("Alpaca paper")
    page.get_by_label("API key id").fill("PKE2E")
    page.get_by_label("API secret key").fill("e2e-secret-value")
    screenshot(page, "broker_connect")
    page.get_by_role("button", name="Connect account").click()
    # Then the connection page opens, not checked yet
    page.wait_for_url("**/broker/")
    badge = page.locator("#broker-status")
    assert "Disconnected" in badge.inner_text() or "Not checked" in page.content()
    # When the connection is tested
    page.get_by_role("button", name="Test connection").click()
    # Then the answer is in words and the badge says connected
    result = page.locator("#broker-test-result")
    result.filter(has_text="OK in 12 ms").wait_for()
    assert result.inner_text() == "OK in 12 ms: Alpaca answers (account ACTIVE)."
    badge.filter(has_text="Connected").wait_for()
    # When the broker then refuses the key and the test runs again
    connected_broker.check = ConnectionCheck(False, 30, "Alpaca refused the key.", "error")
    page.get_by_role("button", name="Test connection").click()
    result.filter(has_text="Failed").wait_for()
    badge.filter(has_text="Error").wait_for()
    screenshot(page, "broker_connection_error")
    assert "e2e-secret-value" not in page.content()
    assert "stored encrypted (never shown)" in page.content()
    # and on a phone the page does not scroll sideways
    page.set_viewport_size({"width": 390, "height": 800})
    screenshot(page, "broker_connection_phone")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.js_errors == []
    assert TradingAccount.objects.get(name="Alpaca paper").broker == "alpaca"
