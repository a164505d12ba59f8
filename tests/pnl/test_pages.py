"""Pages of pnl (positions, PnL, lot ledger) and the CSV exports: who may see what."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from pnl.services import pnl_snapshot_take
from tests.factories import MembershipFactory, account_with_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(trader) -> Client:
    client = Client()
    client.force_login(trader)
    return client


def page_data(response) -> dict:
    html = response.content.decode()
    start = html.index('id="positions-data"')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


@pytest.mark.parametrize("url", ["/positions/", "/pnl/", "/pnl/export/fills.csv"])
def test_pages_need_a_login(url):
    response = Client().get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_positions_page_lists_my_positions_with_what_the_live_script_needs(
    browser, account, other_user, acme, book, quote
):
    theirs = account_with_member(user=other_user, name="Theirs")
    book(account, acme, "buy", "10", "100")
    book(theirs, acme, "buy", "3", "100")
    quote("ACME", "101")
    response = browser.get("/positions/")
    assert response.status_code == 200
    data = page_data(response)
    assert [
        (p["account"], p["qty"], p["unrealized_pnl"], p["multiplier"]) for p in data["positions"]
    ] == [(str(account.pk), "10", "10", "1")]
    assert [a["name"] for a in data["accounts"]] == ["Main"]
    assert data["accounts"][0]["can_trade"] is True
    html = response.content.decode()
    assert "js/pnl/positions.js" in html and 'href="/positions/"' in html  # nav link


def test_positions_page_shows_open_reconciliation_alerts(browser, account, acme, book):
    from pnl.models import ReconciliationAlert

    ReconciliationAlert.objects.create(account=account, symbol="ACME", ours=10, theirs=7)
    html = browser.get("/positions/").content.decode()
    assert "Position mismatch" in html and "ACME" in html


def test_an_invisible_account_filter_is_ignored_not_leaked(browser, other_user, acme, book):
    theirs = account_with_member(user=other_user, name="Theirs")
    book(theirs, acme, "buy", "3", "100")
    response = browser.get(f"/positions/?account={theirs.pk}")
    assert response.status_code == 200
    assert page_data(response)["positions"] == [] and "Theirs" not in response.content.decode()


def test_pnl_page_uses_the_vendored_chart_library(browser, account):
    html = browser.get(f"/pnl/?account={account.pk}").content.decode()
    assert "/static/vendor/lightweight-charts/lightweight-charts.js" in html
    assert "js/pnl/pnl.js" in html and "cdn" not in html.lower()
    assert f'value="{account.pk}" selected' in html


def test_lot_ledger_shows_open_lots_and_which_fills_closed_what(
    browser, account, acme, book, quote
):
    book(account, acme, "buy", "100", "10", tag="swing")
    book(account, acme, "buy", "50", "12")
    book(account, acme, "sell", "120", "13")
    quote("ACME", "11")
    response = browser.get(f"/positions/{account.pk}/ACME/lots/")
    assert response.status_code == 200
    ledger = response.context["ledger"]
    assert [(lot.remaining_qty, lot.price) for lot in ledger.lots] == [(30, 12)]
    assert sorted((m.qty, m.entry_price, m.amount) for m in ledger.matches) == [
        (20, 12, 20),
        (100, 10, 300),
    ]
    assert response.context["lots"][0]["unrealized"] == -30
    html = response.content.decode()
    assert "swing" in html and "Realized matches" in html


def test_lot_ledger_of_someone_elses_account_is_404(browser, other_user, acme, book):
    theirs = account_with_member(user=other_user, name="Theirs")
    book(theirs, acme, "buy", "3", "100")
    assert browser.get(f"/positions/{theirs.pk}/ACME/lots/").status_code == 404


def test_fills_export_streams_my_fills_only(browser, account, other_user, acme, book):
    theirs = account_with_member(user=other_user, name="Theirs")
    mine = book(account, acme, "buy", "10", "100.05", fee="0.3", tag="t1")
    book(theirs, acme, "buy", "3", "100")
    rows = csv_rows(browser.get("/pnl/export/fills.csv"))
    assert rows[0][:4] == ["ts", "fill_id", "order_id", "account_id"]
    assert len(rows) == 2
    assert rows[1][1] == str(mine.pk) and rows[1][7:12] == ["10", "100.05", "0.3", "taker", "t1"]


def test_matches_export_traces_each_realized_amount(browser, account, acme, book):
    entry = book(account, acme, "buy", "10", "100")
    exit_ = book(account, acme, "sell", "4", "102.5")
    header, row = csv_rows(browser.get(f"/pnl/export/matches.csv?account={account.pk}"))
    record = dict(zip(header, row, strict=True))
    assert (record["entry_fill_id"], record["exit_fill_id"], record["qty"]) == (
        str(entry.pk),
        str(exit_.pk),
        "4",
    )
    assert (record["entry_price"], record["exit_price"], record["realized_pnl"]) == (
        "100",
        "102.5",
        "10",
    )


def test_daily_export_has_one_row_per_account_and_day(browser, account, trader, acme, book, quote):
    second = account_with_member(user=trader, name="Second")
    yesterday = datetime.now(UTC) - timedelta(days=1)
    book(account, acme, "buy", "10", "100", ts=yesterday)
    book(account, acme, "sell", "10", "101", ts=yesterday)
    book(second, acme, "buy", "1", "100")
    quote("ACME", "100")
    pnl_snapshot_take(day=yesterday.date())
    rows = csv_rows(browser.get("/pnl/export/daily.csv"))
    assert rows[0] == [
        "date",
        "account_id",
        "account",
        "realized_pnl",
        "unrealized_pnl",
        "fees",
        "net_pnl",
    ]
    assert [(r[0], r[2], r[3]) for r in rows[1:]] == [
        (yesterday.date().isoformat(), "Main", "10"),
        (datetime.now(UTC).date().isoformat(), "Second", "0"),
    ]


def test_exports_of_someone_elses_account_are_404_and_bad_dates_400(browser, other_user):
    theirs = account_with_member(user=other_user, name="Theirs")
    for kind in ("fills", "matches", "daily"):
        assert browser.get(f"/pnl/export/{kind}.csv?account={theirs.pk}").status_code == 404
    assert browser.get("/pnl/export/fills.csv?from=someday").status_code == 400


def test_a_view_member_sees_positions_without_close_rights(make_key_client, other_user, acme, book):
    theirs = account_with_member(user=other_user, name="Theirs")
    book(theirs, acme, "buy", "3", "100")
    viewer = MembershipFactory(account=theirs, role="view").user
    client = Client()
    client.force_login(viewer)
    data = page_data(client.get("/positions/"))
    assert [a["can_trade"] for a in data["accounts"]] == [False]
    assert [p["qty"] for p in data["positions"]] == ["3"]


def test_dashboard_shows_open_positions_and_their_unrealized_pnl(
    browser, account, acme, book, quote
):
    book(account, acme, "buy", "10", "100")
    quote("ACME", "99.5")
    html = browser.get("/").content.decode()
    assert 'id="panel-positions"' in html
    panel = html[html.index('id="panel-positions"') :]
    assert "1 open" in panel and "ACME" in panel and "-5.00" in panel
