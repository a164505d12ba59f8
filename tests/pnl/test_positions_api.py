"""GET /api/v1/positions: shape, which positions appear, and whose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import MembershipFactory, account_with_member

pytestmark = pytest.mark.django_db
URL = "/api/v1/positions"


def rows(response):
    assert response.status_code == 200, response.json()
    return response.json()["results"]


def test_list_is_paginated_and_holds_open_positions_of_visible_accounts(
    client, trader, other_user, account, acme, foo, book, quote
):
    # given my long ACME, my short FOO, and someone else's position
    theirs = account_with_member(user=other_user, name="Theirs")
    book(account, acme, "buy", "10", "100")
    book(account, foo, "sell", "5", "20")
    book(theirs, acme, "buy", "7", "100")
    quote("ACME", "101")
    # when I list positions
    body = client.get(URL).json()
    # then I see mine only, signed, marked where a quote exists
    assert set(body) == {"count", "next", "previous", "results"}
    got = {(r["account"], r["symbol"]): r for r in body["results"]}
    assert set(got) == {(str(account.pk), "ACME"), (str(account.pk), "FOO")}
    assert got[(str(account.pk), "FOO")] == {
        "account": str(account.pk),
        "symbol": "FOO",
        "qty": "-5",
        "avg_entry_price": "20",
        "market_price": None,  # FOO has no quote yet
        "market_value": None,
        "unrealized_pnl": None,
        "realized_pnl": "0",
        "fees": "0",
    }
    assert got[(str(account.pk), "ACME")]["unrealized_pnl"] == "10"


def test_flat_positions_appear_only_on_the_day_they_traded(client, account, acme, foo, book):
    # given ACME closed yesterday and FOO closed today
    yesterday = datetime.now(UTC) - timedelta(days=1)
    book(account, acme, "buy", "10", "100", ts=yesterday)
    book(account, acme, "sell", "10", "101", ts=yesterday)
    book(account, foo, "buy", "10", "20")
    book(account, foo, "sell", "10", "21")
    # then only FOO (realized today) is listed
    listed = rows(client.get(URL + f"?account={account.pk}"))
    assert [(r["symbol"], r["qty"], r["realized_pnl"]) for r in listed] == [("FOO", "0", "10")]


def test_filters_by_account_and_symbol(client, trader, account, acme, foo, book):
    second = account_with_member(user=trader, name="Second")
    book(account, acme, "buy", "1", "100")
    book(second, foo, "buy", "2", "20")
    assert [r["symbol"] for r in rows(client.get(URL + f"?account={second.pk}"))] == ["FOO"]
    assert [r["account"] for r in rows(client.get(URL + "?symbol=acme"))] == [str(account.pk)]


def test_an_unknown_account_is_404(client):
    response = client.get(URL + "?account=00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("url", [URL, "/api/v1/pnl"])
def test_a_malformed_account_id_is_400_naming_the_parameter(client, url):
    # like /api/v1/orders and /api/v1/fills: a value that cannot be an id is bad input
    response = client.get(url + "?account=not-an-id")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "account" in error["fields"]


def test_someone_elses_account_is_404_and_leaks_nothing(client, other_user, acme, book):
    theirs = account_with_member(user=other_user, name="Theirs")
    book(theirs, acme, "buy", "7", "100")
    response = client.get(URL + f"?account={theirs.pk}")
    assert response.status_code == 404
    assert "7" not in response.content.decode()


def test_a_view_member_reads_positions(make_key_client, other_user, acme, book):
    theirs = account_with_member(user=other_user, name="Theirs")
    book(theirs, acme, "buy", "7", "100")
    viewer = MembershipFactory(account=theirs, role="view").user
    listed = rows(make_key_client(viewer).get(URL + f"?account={theirs.pk}"))
    assert [(r["symbol"], r["qty"]) for r in listed] == [("ACME", "7")]


def test_admins_see_every_account(make_key_client, admin_user, other_user, acme, book):
    theirs = account_with_member(user=other_user, name="Theirs")
    book(theirs, acme, "buy", "7", "100")
    listed = rows(make_key_client(admin_user).get(URL))
    assert [r["account"] for r in listed] == [str(theirs.pk)]


def test_no_credentials_is_401(api_client):
    response = api_client.get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_trailing_slash_is_optional(client, account, acme, book):
    book(account, acme, "buy", "1", "100")
    assert rows(client.get(URL + "/")) == rows(client.get(URL))
