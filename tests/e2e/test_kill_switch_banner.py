"""The kill-switch banner in a real browser, on a phone and a desktop: visible at the top of
a trading page, naming the halted account, without widening the page."""

from __future__ import annotations

import pytest

from accounts import risk_services
from tests.e2e.helpers import run_outside_loop

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1440, 390])
def test_trading_pages_show_the_kill_switch_banner(
    desk, width, trader, admin_user, logged_in_page, screenshot
):
    # given the global switch engaged with a reason, and the trader's account halted too
    # (outside Playwright's event loop: the switches also push kill_switch.changed live)
    run_outside_loop(
        risk_services.global_kill_switch_set, actor=admin_user, engaged=True, reason="venue outage"
    )
    run_outside_loop(
        risk_services.account_kill_switch_set,
        actor=admin_user,
        account=desk["account"],
        engaged=True,
    )
    page = logged_in_page(trader)
    page.set_viewport_size({"width": width, "height": 900})
    for path in ("/orders/", "/positions/", "/gtt/"):
        # when the trader opens a trading page
        page.goto(path)
        # then the banner is on screen, says both, and the page is no wider than the screen
        banner = page.locator("#kill-switch-banner")
        assert banner.is_visible()
        text = banner.inner_text()
        assert "Global kill switch engaged" in text and "venue outage" in text
        assert "Paper desk" in text
        box = banner.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        assert page.evaluate("() => document.documentElement.scrollWidth") == width
    screenshot(page, f"kill_switch_banner_{width}")
