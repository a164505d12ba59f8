"""The positions page in a real browser on the real ASGI app: unrealized PnL moves with
the feed without a reload, fills move the rows, and a position closes from its button.

Ticks and orders go through the server's own HTTP API (as a feed and a trader would), so
the live pushes start inside the server process whatever the channel layer is."""

from __future__ import annotations

import json
import urllib.request
from decimal import Decimal

import pytest

from accounts.models import RiskLimits
from pnl.services import fill_record
from tests.factories import ApiKeyFactory, UserFactory, account_with_member
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT_MS = 15_000
ROW = 'tr[data-symbol="ACME"]'


def post(base_url: str, path: str, body: dict, key: str) -> dict:
    request = urllib.request.Request(
        base_url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {key}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # the local test server
        return json.loads(response.read() or b"{}")


def cell(page, field: str) -> str:
    return page.text_content(f'{ROW} [data-field="{field}"]')


def wait_cell(page, field: str, text: str) -> None:
    page.wait_for_function(
        "([sel, text]) => { const el = document.querySelector(sel); "
        "return el && el.textContent === text; }",
        arg=[f'{ROW} [data-field="{field}"]', text],
        timeout=WAIT_MS,
    )


def test_unrealized_pnl_ticks_with_the_feed_and_fills_and_closes_move_the_rows(
    asgi_server, asgi_logged_in_page, trader, screenshot
):
    # given a trader long 10 ACME @ 100 on a paper account, ACME last 101
    acme = InstrumentFactory(symbol="ACME", exchange=ExchangeFactory(), tick_size=Decimal("0.01"))
    account = account_with_member(user=trader, name="Main", broker="paper", cash=Decimal("1e6"))
    RiskLimits.objects.filter(account=account).update(allow_short=True)
    feed_key = ApiKeyFactory.issue(user=UserFactory(username="feed", role="admin")).raw_key
    trader_key = ApiKeyFactory.issue(user=trader).raw_key
    post(asgi_server, "/api/v1/market-data/ticks", {"symbol": "ACME", "last": "101"}, feed_key)
    from datetime import UTC, datetime

    fill_record(
        order_id="00000000-0000-0000-0000-0000000000aa",
        account_id=account.pk,
        instrument_id=acme.pk,
        symbol="ACME",
        side="buy",
        qty=Decimal("10"),
        price=Decimal("100"),
        ts=datetime.now(UTC),
        report_id="e2e-open",
    )
    page = asgi_logged_in_page(trader)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto("/positions/")
    page.wait_for_selector("#live-status[data-state=open]", timeout=WAIT_MS)
    wait_cell(page, "unrealized", "10.00")
    assert (cell(page, "qty"), cell(page, "avg"), cell(page, "mark")) == (
        "10",
        "100.0000",
        "101.00",
    )

    # when the feed moves ACME to 103.5
    post(
        asgi_server,
        "/api/v1/market-data/ticks",
        {"symbol": "ACME", "last": "103.5", "bid": "103.45", "ask": "103.55"},
        feed_key,
    )
    # then the row and the totals move without a reload: (103.5 − 100) × 10 = 35
    wait_cell(page, "unrealized", "35.00")
    assert cell(page, "mark") == "103.50"
    assert page.text_content("#tot-unrealized") == "35.00"
    screenshot(page, "pnl-positions-live")

    # when the trader buys 5 more at the ask (a fill on the paper broker)
    post(
        asgi_server,
        "/api/v1/orders",
        {"account": str(account.pk), "symbol": "ACME", "side": "buy", "type": "market",
         "qty": "5", "time_in_force": "day"},
        trader_key,
    )  # fmt: skip
    # then the pushed position replaces the row: 15 @ (1000 + 517.75) / 15
    wait_cell(page, "qty", "15")
    assert cell(page, "avg") == "101.1833"  # the tick's places + 2, not the raw 8

    # when the trader closes the position from its button (confirmed)
    page.click(f'{ROW} button[data-close="ACME"]')
    # and is told so in words: a plain state, not the API's pending_new
    toast = page.locator(".toast", has_text="Market sell 15 ACME")
    toast.wait_for(timeout=WAIT_MS)
    states = ("Pending", "Open", "Filled")
    assert toast.inner_text() in {f"Market sell 15 ACME: {state}" for state in states}
    # then a market sell of 15 fills at the bid and the row shows flat with the realized PnL
    wait_cell(page, "qty", "0")
    # (103.45 − 100) × 10 + (103.45 − 103.55) × 5 = 34.5 − 0.5 = 34
    wait_cell(page, "realized", "34.00")
    assert page.query_selector(f'{ROW} button[data-close="ACME"]') is None
    assert errors == []
