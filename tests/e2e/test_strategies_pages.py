"""The strategies pages in a real browser on the real ASGI app: a trader creates a strategy
through the form, reads its webhook URL, secret and TradingView template, a signed signal
is posted from outside (Python, as a script would), and each account's outcome appears in
the live log without a reload; the blotter and the order page link back to it. Screenshots
at 1440 and 390 px (/tmp/oms_shots/strategies_*.png)."""

from __future__ import annotations

import json
import urllib.request
from decimal import Decimal

import pytest

from accounts.models import RiskLimits
from orders.models import Order
from tests.e2e.helpers import push_tick
from tests.factories import ApiKeyFactory, UserFactory, account_with_member
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory
from tests.strategies.conftest import sign

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT_MS = 15_000
LIVE_MS = 10_000  # under the page's 15 s quiet re-read: only the live push is that quick


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_create_a_strategy_post_a_signed_signal_and_watch_the_outcomes_arrive(
    asgi_server, asgi_logged_in_page, trader, screenshot
):
    # given ACME at 1251 and two paper accounts of the trader
    InstrumentFactory(
        symbol="ACME", exchange=ExchangeFactory(), tick_size=Decimal("0.05"), lot_size=Decimal("1")
    )
    for name in ("Paper A", "Paper B"):
        account = account_with_member(user=trader, broker="paper", cash=Decimal("1e6"), name=name)
        RiskLimits.objects.filter(account=account).update(allow_short=True)
    feed_key = ApiKeyFactory.issue(user=UserFactory(username="feed", role="admin")).raw_key
    tick = {"symbol": "ACME", "last": "1251", "bid": "1250.95", "ask": "1251.05"}
    push_tick(asgi_server, feed_key, **tick)
    page = asgi_logged_in_page(trader)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Chromium reports what the Content-Security-Policy blocked on the console.
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )

    # when the trader creates a strategy: A fixed 5, B 1% of equity, NSE:ACME → ACME
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/strategies/")
    page.fill("#id_name", "Breakout")
    page.check("#id_m-0-include")
    page.fill("#id_m-0-amount", "5")
    page.check("#id_m-1-include")
    page.select_option("#id_m-1-sizing_type", "equity_pct")
    page.fill("#id_m-1-amount", "1")
    page.fill("#id_symbols", "NSE:ACME = ACME")
    screenshot(page, "strategies_form_1440")
    page.click("#strategy-form button[type=submit]")
    page.wait_for_url("**/strategies/*-*/")

    # then its page shows the webhook URL, the secret once, and the alert template with it
    webhook_url = page.text_content("#webhook-url").strip()
    assert webhook_url.startswith(asgi_server + "/api/v1/signals/")
    secret = page.text_content("#webhook-secret").strip()
    alert = json.loads(page.text_content("#alert-action"))
    assert alert["secret"] == secret and alert["symbol"] == "{{ticker}}"
    assert alert["action"] == "{{strategy.order.action}}"
    assert "openssl dgst -sha256 -hmac" in page.text_content("#curl-example")
    rows = page.locator("#strategy-accounts tbody tr")
    assert rows.nth(0).inner_text().split() == ["Paper", "A", "5", "fixed"]
    assert "1.00% of equity" in rows.nth(1).inner_text()
    assert page.text_content("#signal-log-body").strip().startswith("No signals yet")
    page.wait_for_selector("#live-status[data-state=open]", timeout=WAIT_MS)

    # when a script posts a signed buy signal for the alert's ticker, as TradingView fills
    # in its template (qty and the close as the limit price: a long line on a phone)
    alert_body = {"symbol": "NSE:ACME", "action": "buy", "qty": "3", "price": "1251.05"}
    raw = json.dumps({**alert_body, "id": "e2e-1"}).encode()
    request = urllib.request.Request(
        webhook_url,
        data=raw,
        headers={
            "Content-Type": "application/json",
            "X-Signature": sign(secret, raw),
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
        signal_id = json.loads(response.read())["signal_id"]

    # then the log shows it with each account's outcome, live (no reload)
    row = f'#signal-log tr[data-id="{signal_id}"][data-status="done"]'
    page.wait_for_selector(row, timeout=LIVE_MS)
    page.wait_for_function(
        "sel => document.querySelectorAll(sel + ' ul.outcomes li').length === 2",
        arg=row,
        timeout=LIVE_MS,
    )
    outcomes = {
        li.get_attribute("data-account"): li.inner_text()
        for li in page.query_selector_all(f"{row} ul.outcomes li")
    }
    a, b = (Order.objects.get(account__name=name) for name in ("Paper A", "Paper B"))
    assert (a.qty, b.qty) == (Decimal("5"), Decimal("7"))  # 1% of 1,000,000 / 1251 → 7
    assert outcomes[str(a.account_id)].startswith(f"Paper A5 order {str(a.pk)[:8]}")
    assert outcomes[str(b.account_id)].startswith(f"Paper B7 order {str(b.pk)[:8]}")
    assert "BUY NSE:ACME" in page.text_content(f"{row} td.signal")
    assert page.query_selector("#secret-once")  # still this page: shown once, no reload
    screenshot(page, "strategies_detail_1440")
    page.set_viewport_size({"width": 390, "height": 844})
    assert no_sideways_scroll(page)
    screenshot(page, "strategies_detail_390")

    # and a reload no longer shows the secret
    page.reload()
    page.wait_for_selector(row)
    assert page.query_selector("#secret-once") is None
    assert secret not in page.content()

    # and the list names its last signal's outcome
    page.goto("/strategies/")
    list_row = page.locator("#strategies tbody tr").first
    assert "2 of 2 placed" in list_row.inner_text()
    assert no_sideways_scroll(page)
    screenshot(page, "strategies_list_390")
    # and "New strategy" opens the folded form (on a phone too: members as cards)
    assert not page.is_visible("#strategy-form")
    page.click(".page-head a[href='#create']")
    page.wait_for_selector("#strategy-form", state="visible")
    assert no_sideways_scroll(page)
    screenshot(page, "strategies_form_390")
    page.set_viewport_size({"width": 1440, "height": 900})
    screenshot(page, "strategies_list_1440")

    # and the blotter and the order page link back to the strategy and the signal
    page.goto("/orders/?tab=all")
    link = page.locator(f'#blotter tr[data-id="{a.pk}"] a.strategy-link')
    link.wait_for(timeout=WAIT_MS)
    assert link.inner_text() == "⚙ Breakout"
    assert link.get_attribute("href").endswith(f"#signal-{signal_id}")
    screenshot(page, "strategies_blotter_1440")
    page.goto(f"/orders/{b.pk}/")
    assert page.locator("#order-strategy a").inner_text() == "Breakout"
    page.click("#order-strategy a")
    page.wait_for_selector(f'#signal-log tr[id="signal-{signal_id}"]')
    assert errors == []
