"""The order page's audit trail folds a trailing stop's many `stop_moved` events into one
expandable row (details/summary); every move stays stored and is listed inside it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import RiskLimits
from marketdata.services import tick_ingest
from tests.factories import account_with_member
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory
from tests.orders.factories import place

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MOVES = 5


def _tick(last: str) -> None:
    result = tick_ingest(symbol="ACME", last=last, bid=None, ask=None, volume=1, source="test")
    assert result.applied


def _trailing_order(trader):
    # given a sell trailing stop 2.00 below ACME at 100, and the market rising five times
    InstrumentFactory(symbol="ACME", exchange=ExchangeFactory(), tick_size=Decimal("0.05"))
    account = account_with_member(user=trader, name="Paper", broker="paper")
    RiskLimits.objects.filter(account=account).update(allow_short=True)
    _tick("100")
    order = place(
        trader, account, side="sell", order_type="trailing_stop", limit_price=None, trail_price="2"
    )
    for step in range(1, MOVES + 1):
        _tick(str(100 + step))
    order.refresh_from_db()
    assert order.stop_price == Decimal("103")
    assert order.events.filter(type="stop_moved").count() == MOVES  # all kept in the trail
    connection.close()
    return order


@pytest.fixture
def trailing_order(trader, browser):
    # Outside Playwright's thread: its event loop would refuse the ticks' synchronous pushes.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_trailing_order, trader).result()


@pytest.mark.parametrize("width", [1440, 390])
def test_consecutive_stop_moves_are_one_expandable_row(
    trailing_order, trader, logged_in_page, screenshot, width
):
    page = logged_in_page(trader)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"/orders/{trailing_order.pk}/")

    rows = page.locator("#events tbody tr[data-type=stop_moved]")
    assert rows.count() == 1
    row = rows.first
    summary = row.locator("details.event-run summary")
    assert f"in {MOVES} moves" in summary.inner_text()
    assert "98" in summary.inner_text() and "103" in summary.inner_text()
    assert not row.locator("ol.moves li").first.is_visible()  # folded until asked

    summary.click()
    items = row.locator("ol.moves li")
    assert items.count() == MOVES
    assert items.first.is_visible()
    assert "98 → 99 (mark 101)" in items.first.inner_text()
    screenshot(page, f"order-detail-stop-moves-{width}")
    assert page.js_errors == []
