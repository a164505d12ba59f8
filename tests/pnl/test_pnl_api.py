"""GET /api/v1/pnl: totals, by symbol, by strategy tag, by day; ranges; whose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pnl.services import pnl_snapshot_take
from tests.factories import account_with_member

pytestmark = pytest.mark.django_db
URL = "/api/v1/pnl"

NOW = datetime.now(UTC)
TODAY = NOW.date()
YESTERDAY = TODAY - timedelta(days=1)


def at(day, hour=12):
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def get(client, query=""):
    response = client.get(URL + query)
    assert response.status_code == 200, response.json()
    return response.json()


def test_report_shape_totals_and_by_symbol(client, account, acme, foo, book, quote):
    # given ACME: +10 realized, 4 left long at 100; FOO: short 5 @ 20; fees 3
    book(account, acme, "buy", "10", "100", fee="1")
    book(account, acme, "sell", "6", "101.5", fee="1")  # (101.5 − 100) × 6 = 9
    book(account, foo, "sell", "5", "20", fee="1")
    quote("ACME", "102")  # ACME unrealized (102 − 100) × 4 = 8
    quote("FOO", "19")  # FOO unrealized (20 − 19) × 5 = 5
    body = get(client, f"?account={account.pk}")
    assert set(body) == {
        "realized_pnl",
        "unrealized_pnl",
        "fees",
        "net_pnl",
        "by_symbol",
        "by_tag",
        "daily",
    }
    assert (body["realized_pnl"], body["unrealized_pnl"], body["fees"], body["net_pnl"]) == (
        "9",
        "13",
        "3",
        "19",
    )
    assert body["by_symbol"] == [
        {
            "symbol": "ACME",
            "qty": "4",
            "realized_pnl": "9",
            "unrealized_pnl": "8",
            "fees": "2",
            "net_pnl": "15",
        },
        {
            "symbol": "FOO",
            "qty": "-5",
            "realized_pnl": "0",
            "unrealized_pnl": "5",
            "fees": "1",
            "net_pnl": "4",
        },
    ]
    assert body["daily"] == [
        {
            "date": TODAY.isoformat(),
            "realized_pnl": "9",
            "unrealized_pnl": "13",
            "fees": "3",
            "net_pnl": "19",
        }
    ]


def test_realized_goes_to_the_tag_that_opened_the_lot_and_fees_to_each_fills_tag(
    client, account, acme, book, quote
):
    book(account, acme, "buy", "10", "100", fee="1", tag="momentum")
    book(account, acme, "buy", "10", "110", fee="1", tag="")
    book(account, acme, "sell", "15", "120", fee="2", tag="exit")  # 10×20 momentum, 5×10 untagged
    quote("ACME", "100")  # 5 left from the untagged lot @ 110: −50
    by_tag = {row["tag"]: row for row in get(client, f"?account={account.pk}")["by_tag"]}
    assert by_tag["momentum"] == {
        "tag": "momentum",
        "realized_pnl": "200",
        "unrealized_pnl": "0",
        "fees": "1",
        "net_pnl": "199",
    }
    assert by_tag[""] == {
        "tag": "",
        "realized_pnl": "50",
        "unrealized_pnl": "-50",
        "fees": "1",
        "net_pnl": "-1",
    }
    assert by_tag["exit"]["fees"] == "2" and by_tag["exit"]["realized_pnl"] == "0"


def test_daily_rows_realize_by_closing_day_and_use_snapshots_for_past_levels(
    client, account, acme, book, quote
):
    # given a buy two days ago, a partial sell yesterday, a snapshot last night
    two_days_ago = TODAY - timedelta(days=2)
    book(account, acme, "buy", "10", "100", fee="1", ts=at(two_days_ago))
    book(account, acme, "sell", "4", "105", fee="1", ts=at(YESTERDAY))  # +20 yesterday
    quote("ACME", "103", ts=at(YESTERDAY, 23))  # yesterday's close
    pnl_snapshot_take(day=YESTERDAY)  # level yesterday: (103 − 100) × 6 = 18
    quote("ACME", "101")  # level now: 6
    body = get(client, f"?account={account.pk}")
    days = {row["date"]: row for row in body["daily"]}
    assert days[two_days_ago.isoformat()] == {
        "date": two_days_ago.isoformat(),
        "realized_pnl": "0",
        "unrealized_pnl": "0",
        "fees": "1",
        "net_pnl": "-1",
    }
    assert days[YESTERDAY.isoformat()]["net_pnl"] == "37"  # 20 + (18 − 0) − 1
    assert days[TODAY.isoformat()]["net_pnl"] == "-12"  # 0 + (6 − 18) − 0
    # and the daily nets add up to the lifetime net PnL (20 + 6 − 2 = 24)
    assert body["net_pnl"] == "24"
    assert sum(int(row["net_pnl"]) for row in body["daily"]) == 24


def test_a_range_counts_only_its_days_and_a_past_range_uses_the_snapshot_level(
    client, account, acme, book, quote
):
    book(account, acme, "buy", "10", "100", ts=at(YESTERDAY, 9))
    book(account, acme, "sell", "5", "104", fee="2", ts=at(YESTERDAY, 10))  # +20
    quote("ACME", "102", ts=at(YESTERDAY, 23))  # yesterday's close
    book(account, acme, "sell", "1", "90", fee="1")  # −10 today
    pnl_snapshot_take(day=YESTERDAY)  # as the day ended: 5 held, level 5 × 2 = 10
    quote("ACME", "101")
    today = get(client, f"?account={account.pk}&from={TODAY}&to={TODAY}")
    assert (today["realized_pnl"], today["fees"], today["unrealized_pnl"]) == ("-10", "1", "4")
    past = get(client, f"?account={account.pk}&to={YESTERDAY}")
    assert (past["realized_pnl"], past["fees"], past["unrealized_pnl"]) == ("20", "2", "10")
    assert [row["date"] for row in past["daily"]] == [YESTERDAY.isoformat()]
    assert past["by_symbol"][0]["qty"] == "5"  # as the day ended


def test_without_an_account_every_visible_account_is_summed(
    client, trader, other_user, account, acme, book
):
    second = account_with_member(user=trader, name="Second")
    theirs = account_with_member(user=other_user, name="Theirs")
    for acct in (account, second, theirs):
        book(acct, acme, "buy", "1", "100")
        book(acct, acme, "sell", "1", "103")
    body = get(client)
    assert body["realized_pnl"] == "6"  # 3 + 3, not the other user's
    assert body["by_symbol"][0]["realized_pnl"] == "6"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?from=yesterday", "from"),
        ("?to=2024-13-01", "to"),
        ("?from=2024-02-02&to=2024-02-01", "from"),
    ],
)
def test_bad_dates_are_400_naming_the_field(client, query, field):
    response = client.get(URL + query)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_someone_elses_account_is_404(client, other_user):
    theirs = account_with_member(user=other_user, name="Theirs")
    response = client.get(URL + f"?account={theirs.pk}")
    assert response.status_code == 404


def test_an_account_with_no_trading_reports_zeroes(client, account):
    assert get(client, f"?account={account.pk}") == {
        "realized_pnl": "0",
        "unrealized_pnl": "0",
        "fees": "0",
        "net_pnl": "0",
        "by_symbol": [],
        "by_tag": [],
        "daily": [],
    }
