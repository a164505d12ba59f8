"""Numbers and times read the same on every page: the browser's rules (static/js/format.js)
give what the server's filters (accounts/templatetags/oms_format.py) give, and the pages use
them — prices at the tick, averages fixed, money grouped with its currency, dates on orders
not from today, readable local times, one colour rule for gains and losses."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client

from accounts.templatetags import oms_format
from orders.models import Order
from tests.e2e.conftest import DEFAULT_TIMEOUT_MS
from tests.factories import ApiKeyFactory
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TICKS = {"ACME": Decimal("0.05"), "ONE": Decimal("1"), "CENT": Decimal("0.01")}
CASES = [
    ("price", "1251", "ACME"),
    ("price", "1251.05", "ACME"),
    ("price", "1251.00000000", "CENT"),
    ("price", "99.5", "ONE"),
    ("price", "-12.345", "CENT"),
    ("price", None, "ACME"),
    ("price", "1251.5", "NOPE"),
    ("avg", "1251.19411765", "ACME"),
    ("avg", "10.123456", "NOPE"),
    ("money", "1000000", "INR"),
    ("money", "-1234.565", ""),
    ("money", "-0.001", ""),
    ("qty", "1000.00000000", None),
    ("qty", "0.50", None),
    ("percent", "1.5", None),
    ("signClass", "12.5", None),
    ("signClass", "-0.01", None),
    ("signClass", "-0.004", None),
]
# "5 Dec 2026 14:35:30 GMT+5:30": day, month, year, clock, zone; no ISO "T", no microseconds
READABLE = re.compile(r"^\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \S+$")
MONEY_INR = re.compile(r"^\d{1,3}(,\d{3})*\.\d{2} INR$")


def _server(kind: str, value: str | None, arg: str | None) -> str:
    tick = TICKS.get(arg or "")
    return {
        "price": lambda: oms_format.price(value, tick),
        "avg": lambda: oms_format.avg_price(value, tick),
        "money": lambda: oms_format.money(value, arg or ""),
        "qty": lambda: oms_format.qty(value),
        "percent": lambda: oms_format.percent(value),
        "signClass": lambda: oms_format.sign_class(value),
    }[kind]()


@pytest.fixture
def kolkata_page(browser, live_server):
    """`kolkata_page(user)`: a signed-in page in a browser whose clock is in Asia/Kolkata."""
    contexts = []

    def _open(user):
        context = browser.new_context(
            base_url=live_server.url, timezone_id="Asia/Kolkata", locale="en-US"
        )
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
        )
        page = context.new_page()
        page.js_errors = []
        page.on("pageerror", lambda error: page.js_errors.append(str(error)))
        return page

    yield _open
    for context in contexts:
        context.close()


def test_the_browser_writes_every_figure_as_the_server_does(kolkata_page, trader):
    # given instruments with three tick sizes, and a page in a browser on Indian time
    for symbol, tick in TICKS.items():
        InstrumentFactory(symbol=symbol, exchange=ExchangeFactory(), tick_size=tick)
    ApiKeyFactory.issue(user=trader, name="notebook")
    page = kolkata_page(trader)
    page.goto("/api-keys/")
    # when format.js writes each case, then it is exactly the server filter's text
    browser_texts = page.evaluate(
        "(cases) => cases.map(([kind, value, arg]) => OMS.fmt[kind](value, arg))",
        [list(case) for case in CASES],
    )
    assert browser_texts == [_server(*case) for case in CASES]
    # and a time is the server's pattern in the viewer's own zone
    moment = "2026-12-05T09:05:30.123456+00:00"
    assert page.evaluate("(iso) => OMS.fmt.dateTime(iso)", moment) == "5 Dec 2026 14:35:30 GMT+5:30"
    assert oms_format.time_text(datetime.fromisoformat(moment)) == "5 Dec 2026 09:05:30 UTC"
    # and the server-rendered key creation time was turned into local time on load
    created = page.locator(".api-keys-table tbody tr td time").first.inner_text()
    assert READABLE.match(created) and created.endswith("GMT+5:30")


def _kv(page, label: str) -> str:
    return page.evaluate(
        """(label) => {
            const dt = Array.from(document.querySelectorAll("#o-kv dt"))
                .find((node) => node.textContent === label);
            return dt ? dt.nextElementSibling.textContent : null;
        }""",
        label,
    )


def _wait_rows(page) -> None:
    page.wait_for_function("() => !/Loading/.test(document.querySelector('main').innerText)")


@pytest.mark.parametrize("width", [1440, 390])
def test_pages_show_tick_prices_grouped_money_dates_and_one_colour_rule(
    desk, width, kolkata_page, trader, screenshot
):
    # given the desk: bought 17 ACME at 1251.05 (now 1251), a limit buy at 1200, an old order
    old = Order.objects.get(pk=desk["market"])
    Order.objects.filter(pk=old.pk).update(created_at=datetime.now(UTC) - timedelta(days=3))
    page = kolkata_page(trader)
    page.set_viewport_size({"width": width, "height": 900})

    # the blotter: tick prices, fixed averages, and the date on the order from 3 days ago
    page.goto("/orders/?tab=all")
    _wait_rows(page)
    limit_row = page.locator(f"#blotter-body tr[data-id='{desk['limit']}']")
    assert limit_row.locator("[data-col=limit_price]").inner_text() == "1,200.00"
    old_row = page.locator(f"#blotter-body tr[data-id='{desk['market']}']")
    assert old_row.locator("[data-col=avg_fill_price]").inner_text() == "1,251.0500"
    old_time = old_row.locator("td").first.inner_text()
    assert re.match(r"^\d{1,2} [A-Z][a-z]{2} \d{2}:\d{2}:\d{2}$", old_time), old_time
    screenshot(page, f"format_blotter_{width}")

    # the order's page: readable local times, not raw ISO with microseconds
    page.goto(f"/orders/{desk['limit']}/")
    page.wait_for_selector("#o-kv dt")
    created = _kv(page, "Created")
    assert READABLE.match(created) and created.endswith("GMT+5:30"), created
    assert _kv(page, "Limit price") == "1,200.00"
    screenshot(page, f"format_order_{width}")

    # the schedules: a date and a time zone on each
    page.goto("/schedules/")
    _wait_rows(page)
    when = page.locator("#sched-body").inner_text()
    assert "(Asia/Kolkata)" in when
    run_at = desk["run_at"].astimezone(ZoneInfo("Asia/Kolkata"))
    assert f"once at {run_at.day} {run_at:%b %Y %H:%M:%S} GMT+5:30" in when
    screenshot(page, f"format_schedules_{width}")

    # the notifications: their time in the viewer's zone too
    page.goto("/notifications/")
    notified = page.locator("#notification-table tbody time").first.inner_text()
    assert READABLE.match(notified) and notified.endswith("GMT+5:30"), notified

    # money: grouped, two decimals, with the currency, on the ticket and the dashboard alike
    page.goto("/orders/ticket/")
    page.wait_for_function("() => document.getElementById('buying-power').textContent !== '—'")
    assert MONEY_INR.match(page.locator("#buying-power").inner_text())
    page.goto("/")
    cash = page.locator("#dash-summary .stat .value").nth(1).inner_text()
    assert MONEY_INR.match(cash), cash

    # one colour rule: the loss (bought at 1251.05, now 1251) is red, the same class everywhere
    page.goto("/positions/")
    _wait_rows(page)
    unrealized = page.locator("tr[data-symbol=ACME] [data-field=unrealized]")
    loss = unrealized.inner_text()
    assert loss.startswith("-") and "down" in unrealized.get_attribute("class")
    screenshot(page, f"format_positions_{width}")
    page.goto(f"/positions/{desk['account'].pk}/ACME/lots/")
    lots_unrealized = page.locator(".stat", has_text="Unrealized").locator(".value")
    assert "down" in lots_unrealized.get_attribute("class")
    assert lots_unrealized.inner_text() == loss
    page.goto("/")
    assert "down" in page.locator("#panel-positions .stat .value").first.get_attribute("class")
    assert page.js_errors == []
