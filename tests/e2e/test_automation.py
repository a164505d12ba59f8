"""Automation pages in a real browser against the real ASGI app (live stream): the GTT page
(form, price ladder, a GTT firing once), the blotter's bracket tree (legs going live and
an OCO leg cancelled), an algo's progress bar moving, and the schedules page.

Ticks are posted over HTTP with an admin key, so they take the server's own tick path
(quote, triggers, paper fills, pushes) exactly like a feed's."""

from __future__ import annotations

import json
import time
import urllib.request
from decimal import Decimal

import pytest

from accounts.models import RiskLimits
from orders.models import Gtt, Order
from tests.factories import ApiKeyFactory, UserFactory, account_with_member
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT_MS = 10_000


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def market(asgi_server):
    """ACME on SIM, and a function posting a tick to the running server."""
    InstrumentFactory(
        symbol="ACME", exchange=ExchangeFactory(), tick_size=Decimal("0.05"), lot_size=Decimal("1")
    )
    admin = UserFactory(username="feedadmin", role="admin")
    key = ApiKeyFactory.issue(user=admin).raw_key

    def tick(last: str, bid: str | None = None, ask: str | None = None) -> None:
        body = {"symbol": "ACME", "last": last, "bid": bid or last, "ask": ask or last}
        request = urllib.request.Request(
            asgi_server + "/api/v1/market-data/ticks",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Token {key}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202

    tick("100", "99.95", "100.05")
    return tick


@pytest.fixture
def paper(trader):
    account = account_with_member(
        user=trader, broker="paper", cash=Decimal("1000000"), name="Paper"
    )
    RiskLimits.objects.update_or_create(account=account, defaults={"allow_short": True})
    return account


@pytest.fixture
def open_page(asgi_logged_in_page):
    """A page on the ASGI server, signed in, collecting JavaScript errors."""

    def _open(user):
        page = asgi_logged_in_page(user)
        page.js_errors = []
        page.on("pageerror", lambda error: page.js_errors.append(str(error)))
        return page

    return _open


def api(page, method: str, url: str, body: dict | None = None) -> dict:
    return page.evaluate(
        "([m, u, b]) => OMS.api(m, u, b === null ? undefined : b)", [method, url, body]
    )


def test_gtt_page_creates_a_gtt_shows_the_ladder_and_sees_it_fire_once(
    market, paper, trader, open_page, screenshot
):
    # given the trader on the GTT page with the live stream connected
    page = open_page(trader)
    page.goto("/gtt/")
    page.wait_for_selector("#live-status[data-state=open]", timeout=WAIT_MS)
    page.wait_for_selector("#gtt-body td.empty")
    # when she fills the form: buy 2 at 95 when ACME falls to 95
    page.fill("#g-symbol", "ACME")
    page.dispatch_event("#g-symbol", "change")
    page.fill("#g-t0", "95")
    page.select_option("#g-side0", "buy")
    page.fill("#g-qty0", "2")
    page.fill("#g-limit0", "95")
    # then the ladder shows the live last price and the trigger below it
    page.wait_for_selector(
        "#ladder .last-line[data-value='100']", state="attached", timeout=WAIT_MS
    )
    assert page.locator("#ladder .trigger-line.down[data-value='95']").count() == 1
    page.click("#gtt-submit")
    row = page.locator("#gtt-body tr[data-id]")
    row.first.wait_for()
    assert "active" in row.first.locator("[data-col=status]").inner_text()
    gtt_id = row.first.get_attribute("data-id")
    screenshot(page, "gtt_page")

    # when the market falls to 96 the ladder's last price follows, nothing fires
    market("96", "95.95", "96.05")
    page.wait_for_selector("#ladder .last-line[data-value='96']", state="attached", timeout=WAIT_MS)
    # when it reaches 95 the row turns triggered, live, naming its order
    market("95", "94.95", "95.05")
    status = page.locator(f"#gtt-body tr[data-id='{gtt_id}'] [data-col=status]")
    status.locator(".badge-triggered").wait_for(timeout=WAIT_MS)
    assert "order" in status.inner_text()
    # and a further crossing places nothing more
    market("94", "93.95", "94.05")
    market("95", "94.95", "95.05")
    gtt = Gtt.objects.get(pk=gtt_id)
    assert gtt.status == "triggered" and len(gtt.order_ids) == 1
    assert Order.objects.filter(account=paper).count() == 1
    screenshot(page, "gtt_page_triggered")
    assert page.js_errors == []


def test_blotter_shows_a_bracket_as_a_tree_and_an_algo_progress_bar_moving(
    market, paper, trader, open_page, screenshot
):
    page = open_page(trader)
    page.goto("/orders/?tab=all")
    page.wait_for_selector("#live-status[data-state=open]", timeout=WAIT_MS)
    page.wait_for_selector("#blotter-body td.empty")
    # given a buy bracket whose entry rests at 99
    entry = api(
        page,
        "POST",
        "/api/v1/orders",
        {
            "account": str(paper.pk),
            "symbol": "ACME",
            "side": "buy",
            "type": "limit",
            "qty": "10",
            "limit_price": "99",
            "order_class": "bracket",
            "take_profit": {"limit_price": "105"},
            "stop_loss": {"stop_price": "95"},
        },
    )["data"]
    # then the blotter shows it with its two legs indented under it, held
    parent_row = page.locator(f"#blotter-body tr[data-id='{entry['id']}']")
    parent_row.wait_for()
    legs = page.locator(f"#blotter-body tr.leg[data-parent='{entry['id']}']")
    legs.nth(1).wait_for()
    assert legs.count() == 2
    assert all("held" in legs.nth(i).inner_text() for i in range(2))
    assert "take profit" in legs.nth(0).inner_text() and "stop loss" in legs.nth(1).inner_text()

    # when the market comes down to the entry, it fills and the take-profit goes live
    market("98.9", "98.85", "98.95")
    parent_row.locator(".badge-filled").wait_for(timeout=WAIT_MS)
    legs.nth(0).locator(".badge-new").wait_for(timeout=WAIT_MS)
    assert legs.nth(1).locator(".badge-held").count() == 1
    screenshot(page, "blotter_bracket_tree")
    # when the take-profit fills, the stop-loss is cancelled — live
    market("105.1", "105.05", "105.15")
    legs.nth(0).locator(".badge-filled").wait_for(timeout=WAIT_MS)
    legs.nth(1).locator(".badge-canceled").wait_for(timeout=WAIT_MS)

    # given a TWAP buy of 100 over 4 s in 2 s slices: the first slice fills at once
    market("100", "99.95", "100.05")
    algo = api(
        page,
        "POST",
        "/api/v1/orders",
        {
            "account": str(paper.pk),
            "symbol": "ACME",
            "side": "buy",
            "type": "market",
            "qty": "100",
            "algo": {"type": "twap", "horizon_secs": 4, "interval_secs": 2},
        },
    )["data"]
    bar = page.locator(f"#blotter-body tr[data-id='{algo['id']}'] .algo-progress")
    bar.wait_for(timeout=WAIT_MS)
    page.wait_for_function(
        f"""() => {{
            const b = document.querySelector("tr[data-id='{algo["id"]}'] .algo-progress");
            return b && parseFloat(b.dataset.filled) > 0;
        }}""",
        timeout=WAIT_MS,
    )
    first = Decimal(bar.get_attribute("data-filled"))
    assert Decimal("0") < first < Decimal("100")
    screenshot(page, "blotter_algo_progress")
    # when the second slice is due and the trader pauses and resumes it from the blotter
    time.sleep(2.2)  # let the schedule reach its second slice
    page.locator(f"#blotter-body tr[data-id='{algo['id']}'] button[data-action=pause]").click()
    resume = page.locator(f"#blotter-body tr[data-id='{algo['id']}'] button[data-action=resume]")
    resume.wait_for(timeout=WAIT_MS)
    resume.click()
    # then the bar moves to the whole quantity and the parent is filled
    page.wait_for_function(
        f"""() => {{
            const b = document.querySelector("tr[data-id='{algo["id"]}'] .algo-progress");
            return b && b.dataset.filled === "100";
        }}""",
        timeout=WAIT_MS,
    )
    parent = Order.objects.get(pk=algo["id"])
    assert parent.status == "filled"
    assert sum(c.filled_qty for c in Order.objects.filter(parent=parent)) == Decimal("100")
    screenshot(page, "blotter_algo_done")
    assert page.js_errors == []


def test_schedules_page_creates_toggles_and_deletes_a_schedule(
    market, paper, trader, open_page, screenshot
):
    page = open_page(trader)
    page.goto("/schedules/")
    page.wait_for_selector("#sched-body td.empty")
    # when the trader schedules a weekday-morning buy
    page.fill("#s-name", "Morning buy")
    page.fill("#s-symbol", "ACME")
    page.fill("#s-qty", "3")
    page.select_option("#s-kind", "cron")
    page.fill("#s-cron", "15 9 * * 1-5")
    page.fill("#s-tz", "Asia/Kolkata")
    page.click("#sched-submit")
    row = page.locator("#sched-body tr[data-id]").first
    row.wait_for()
    assert "cron 15 9 * * 1-5 (Asia/Kolkata)" in row.inner_text()
    assert "buy 3 ACME @ market" in row.inner_text()
    screenshot(page, "schedules")
    # a bad cron is refused with the field named
    page.fill("#s-name", "Broken")
    page.select_option("#s-kind", "cron")
    page.fill("#s-symbol", "ACME")
    page.fill("#s-cron", "every day")
    page.click("#sched-submit")
    page.wait_for_selector("#sched-errors li")
    assert page.inner_text("#sched-errors").startswith("Cron: ")
    # when it is disabled, then deleted
    row.locator("input[data-action=toggle]").click()
    page.wait_for_selector("#sched-body tr.disabled")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#sched-body tr[data-id] button[data-action=delete]").click()
    page.wait_for_selector("#sched-body tr[data-id]", state="detached")
    assert page.js_errors == []
