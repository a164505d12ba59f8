"""CSV exports are safe to open in a spreadsheet (OWASP CSV injection): text cells that a
spreadsheet would run as a formula are written as text; numbers stay numbers."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from tests.factories import account_with_member

pytestmark = pytest.mark.django_db

HOSTILE = ['=HYPERLINK("http://evil.example","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)"]


@pytest.fixture
def browser(trader) -> Client:
    client = Client()
    client.force_login(trader)
    return client


def export(browser: Client, kind: str) -> list[dict[str, str]]:
    response = browser.get(f"/pnl/export/{kind}.csv")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.mark.parametrize("hostile", [*HOSTILE, "\tx", "\rx"])
def test_a_tag_or_account_name_that_looks_like_a_formula_is_exported_as_text(
    browser, trader, acme, book, hostile
):
    # given an account and a fill whose user-typed texts start like a formula
    account = account_with_member(user=trader, name=hostile)
    book(account, acme, "buy", "10", "100", tag=hostile)
    # when the fills are exported
    (row,) = export(browser, "fills")
    # then both cells start with a single quote and keep the text after it
    assert row["account"] == "'" + hostile
    assert row["tag"] == "'" + hostile


def test_a_loss_stays_a_number_and_plain_text_is_untouched(browser, trader, acme, book):
    # given a position closed at a loss on an account with an ordinary name
    account = account_with_member(user=trader, name="Main 2")
    book(account, acme, "buy", "10", "100", tag="swing")
    book(account, acme, "sell", "4", "97.5", tag="swing")
    # when the realized matches and daily PnL are exported
    (match,) = export(browser, "matches")
    daily = export(browser, "daily")
    # then the loss is the plain number -10, and names are as typed
    assert match["realized_pnl"] == "-10"
    assert match["account"] == "Main 2" and match["symbol"] == "ACME"
    assert daily[-1]["realized_pnl"] == "-10" and daily[-1]["account"] == "Main 2"
