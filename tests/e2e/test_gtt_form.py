"""The GTT form starts each new GTT from defaults, keeps both OCO legs on one side, warns
before a leg whose limit is on the far side of its trigger goes in, and names fields in
words (GTT and schedules forms)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.models import Gtt
from tests.e2e.helpers import push_tick, record_posts
from tests.factories import ApiKeyFactory, UserFactory, account_with_member
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT_MS = 10_000


@pytest.fixture
def gtt_page(live_server, trader, logged_in_page):
    """The GTT page of a trader with a paper account, ACME at 100; GTT POSTs are recorded."""
    InstrumentFactory(symbol="ACME", exchange=ExchangeFactory(), tick_size=Decimal("0.05"))
    account_with_member(user=trader, name="Paper", broker="paper", cash=Decimal("1000000"))
    key = ApiKeyFactory.issue(user=UserFactory(username="feed", role="admin")).raw_key
    push_tick(live_server.url, key, symbol="ACME", last="100", bid="99.95", ask="100.05")
    page = logged_in_page(trader)
    page.sent = record_posts(page, "/api/v1/gtt")
    page.goto("/gtt/")
    page.wait_for_selector("#gtt-body td.empty")
    page.fill("#g-symbol", "ACME")
    page.dispatch_event("#g-symbol", "change")
    return page


def created_rows(page, count: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('#gtt-body tr[data-id]').length >= n", arg=count
    )


def test_after_a_create_the_form_starts_again_from_defaults(gtt_page):
    page = gtt_page
    # given a single GTT: sell 5 at limit 94.50 when ACME falls to 95
    page.fill("#g-t0", "95")
    page.select_option("#g-side0", "sell")
    page.fill("#g-qty0", "5")
    page.fill("#g-limit0", "94.50")
    page.click("#gtt-submit")
    created_rows(page, 1)
    # then the next GTT does not inherit its trigger, quantity or limit
    assert page.input_value("#g-t0") == ""
    assert page.input_value("#g-limit0") == ""
    assert page.input_value("#g-qty0") == "1"
    assert page.input_value("#g-symbol") == "ACME"  # where the trader is working stays
    assert page.inner_text("#gtt-warnings") == ""
    assert page.js_errors == []


def test_oco_legs_stay_on_one_side(gtt_page):
    page = gtt_page
    # when the trader switches to OCO, the stop-loss leg exits like the target: sell
    page.select_option("#g-type", "oco")
    assert page.input_value("#g-side0") == "sell" and page.input_value("#g-side1") == "sell"
    # when the target buys back (a short), the stop-loss leg follows
    page.select_option("#g-side1", "buy")
    assert page.input_value("#g-side0") == "buy"


def test_a_limit_on_the_far_side_of_its_trigger_is_warned_before_it_goes_in(gtt_page, screenshot):
    page = gtt_page
    # given an OCO whose stop-loss sells at a limit above its trigger (it may never fill)
    page.select_option("#g-type", "oco")
    page.fill("#g-t0", "95")
    page.fill("#g-limit0", "96")
    page.fill("#g-t1", "110")
    # then the form warns as it is typed
    warning = page.inner_text("#gtt-warnings")
    assert "Stop-loss" in warning and "above its trigger 95" in warning
    # and the first press does not send it
    page.click("#gtt-submit")
    assert page.inner_text("#gtt-submit") == "Send anyway"
    for label, width, height in (("1440", 1440, 900), ("390", 390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        screenshot(page, f"gtt_form_warning_{label}")
    page.set_viewport_size({"width": 1440, "height": 900})
    assert page.sent == [] and Gtt.objects.count() == 0
    # when the limit is corrected, the warning goes and the GTT is created
    page.fill("#g-limit0", "94.50")
    assert page.inner_text("#gtt-warnings") == ""
    assert page.inner_text("#gtt-submit") == "Create GTT"
    page.click("#gtt-submit")
    created_rows(page, 1)
    assert page.sent[-1]["orders"][0]["limit_price"] == "94.50"
    assert page.js_errors == []


def test_a_warned_gtt_goes_in_when_the_trader_insists(gtt_page):
    page = gtt_page
    page.fill("#g-t0", "95")
    page.select_option("#g-side0", "buy")
    page.fill("#g-limit0", "94")  # a buy limit below its trigger
    page.click("#gtt-submit")
    assert "below its trigger" in page.inner_text("#gtt-warnings")
    page.click("#gtt-submit")
    created_rows(page, 1)
    assert Gtt.objects.count() == 1


def test_gtt_and_schedule_errors_name_fields_in_words(gtt_page):
    page = gtt_page
    # a GTT without its trigger price
    page.click("#gtt-submit")
    page.wait_for_selector("#gtt-errors li", timeout=WAIT_MS)
    errors = page.inner_text("#gtt-errors")
    assert errors.startswith("Trigger price") and "_" not in errors
    # a schedule with an unknown symbol
    page.goto("/schedules/")
    page.wait_for_selector("#sched-body td.empty")
    page.fill("#s-name", "Morning")
    page.fill("#s-symbol", "NOPE")
    page.select_option("#s-kind", "cron")
    page.fill("#s-cron", "15 9 * * 1-5")
    page.click("#sched-submit")
    page.wait_for_selector("#sched-errors li", timeout=WAIT_MS)
    errors = page.inner_text("#sched-errors")
    assert "Symbol: Unknown symbol." in errors and "order." not in errors
    assert page.js_errors == []
