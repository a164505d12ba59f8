"""The PnL report page (charts from the vendored lightweight-charts, tables) and the lot
ledger of a position, in a real browser."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from marketdata.services import tick_ingest
from pnl.services import fill_record, pnl_snapshot_take
from tests.factories import account_with_member
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


@pytest.fixture
def history(trader):
    """Three days of ACME and FOO trading on one account, with end-of-day snapshots."""
    sim = ExchangeFactory()
    acme = InstrumentFactory(symbol="ACME", exchange=sim, tick_size=Decimal("0.01"))
    foo = InstrumentFactory(symbol="FOO", exchange=sim, tick_size=Decimal("0.01"))
    account = account_with_member(user=trader, name="Main", cash=Decimal("1e6"))
    today = datetime.now(UTC).date()
    seq = iter(range(1, 100))

    def book(day, hour, instrument, side, qty, price, tag=""):
        fill_record(
            order_id="00000000-0000-0000-0000-000000000001",
            account_id=account.pk,
            instrument_id=instrument.pk,
            symbol=instrument.symbol,
            side=side,
            qty=Decimal(qty),
            price=Decimal(price),
            fee=Decimal("1.5"),
            ts=datetime.combine(day, time(hour), tzinfo=UTC),
            report_id=f"hist-{next(seq)}",
            tag=tag,
        )

    def close(day, symbol, price):
        tick_ingest(symbol=symbol, last=price, ts=datetime.combine(day, time(23, 0), tzinfo=UTC))

    d2, d1 = today - timedelta(days=2), today - timedelta(days=1)
    book(d2, 9, acme, "buy", "100", "10", tag="momentum")
    book(d2, 10, foo, "sell", "50", "20", tag="meanrev")
    close(d2, "ACME", "10.4")
    close(d2, "FOO", "19.8")
    pnl_snapshot_take(day=d2)
    book(d1, 9, acme, "sell", "60", "10.8", tag="momentum")
    close(d1, "ACME", "10.6")
    close(d1, "FOO", "20.3")
    pnl_snapshot_take(day=d1)
    book(today, 0, foo, "buy", "20", "20.1", tag="meanrev")
    tick_ingest(symbol="ACME", last="10.9")
    tick_ingest(symbol="FOO", last="20.2")
    return account


def test_pnl_page_draws_the_curve_the_bars_and_the_breakdowns(
    logged_in_page, trader, history, screenshot
):
    page = logged_in_page(trader)
    page.goto(f"/pnl/?account={history.pk}")
    page.wait_for_selector("#by-symbol tbody tr td:text('ACME')")
    # the charts are drawn by the vendored library (canvas elements), three days of bars
    assert page.eval_on_selector("#equity-chart", "el => el.querySelectorAll('canvas').length") > 0
    assert page.eval_on_selector("#daily-chart", "el => el.querySelectorAll('canvas').length") > 0
    assert page.eval_on_selector_all("#by-day tbody tr", "rows => rows.length") == 3
    tags = page.eval_on_selector_all(
        "#by-tag tbody tr td:first-child", "c => c.map(x => x.textContent)"
    )
    assert tags == ["meanrev", "momentum"]
    # realized: ACME (10.8 − 10) × 60 = 48; FOO (20 − 20.1) × 20 = −2 → 46
    assert page.text_content("#s-realized") == "46.00"
    assert page.js_errors == []
    screenshot(page, "pnl-report")


def test_lot_ledger_page_lists_open_lots_and_matches(logged_in_page, trader, history, screenshot):
    page = logged_in_page(trader)
    page.goto(f"/positions/{history.pk}/ACME/lots/")
    rows = page.eval_on_selector_all("#open-lots tbody tr", "rows => rows.length")
    matches = page.eval_on_selector_all("#matches tbody tr", "rows => rows.length")
    assert (rows, matches) == (1, 1)
    assert page.text_content("#l-qty").strip() == "40"
    assert page.js_errors == []
    screenshot(page, "pnl-lots")


def test_dashboard_panel_lists_open_positions(logged_in_page, trader, history, screenshot):
    page = logged_in_page(trader)
    page.goto("/")
    panel = page.wait_for_selector("#panel-positions")
    assert "2 open" in panel.text_content()
    assert page.js_errors == []
    screenshot(page, "pnl-dashboard-panel")
