"""Why an order was canceled is part of the order (API `cancel_reason`), not only its trail."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client

from execution.exchange.shard import shard_states_reset
from orders import services
from tests.factories import DEFAULT_PASSWORD, account_with_member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_books():
    shard_states_reset()
    yield
    shard_states_reset()


@pytest.fixture
def exchange_account(trader):
    return account_with_member(user=trader, broker="exchange", cash=Decimal("1000000"))


def _place(user, account, submit, **values):
    with submit():
        return services.order_place(
            user=user, account_id=account.pk, symbol="ACME", side="buy", qty=Decimal("10"), **values
        ).order


def test_a_market_order_into_an_empty_book_says_why_it_was_canceled(
    trader, exchange_account, quoted, submit, client
):
    # given an internal exchange with nobody selling ACME
    # when the trader sends a market buy
    order = _place(trader, exchange_account, submit, order_type="market")
    # then it is canceled, and the order itself says why
    body = client.get(f"/api/v1/orders/{order.pk}").json()
    assert body["status"] == "canceled"
    assert body["cancel_reason"].startswith("market order: no more liquidity")


def test_a_cancel_on_request_says_so_and_a_working_order_has_no_reason(
    trader, exchange_account, quoted, submit, client
):
    order = _place(trader, exchange_account, submit, order_type="limit", limit_price=Decimal("99"))
    assert client.get(f"/api/v1/orders/{order.pk}").json()["cancel_reason"] is None
    with submit():
        services.order_cancel(user=trader, order_id=order.pk)
    body = client.get(f"/api/v1/orders/{order.pk}").json()
    assert (body["status"], body["cancel_reason"]) == ("canceled", "canceled by request")


def test_the_ticket_opens_on_the_paper_account(trader, quoted):
    # given a trader with an exchange account named before the paper one
    exchange = account_with_member(user=trader, broker="exchange", name="A — Exchange")
    paper = account_with_member(user=trader, broker="paper", name="B — Paper")
    browser = Client()
    assert browser.login(username=trader.username, password=DEFAULT_PASSWORD)
    # when the ticket opens without an account in the URL, paper is the one selected
    html = browser.get("/orders/ticket/").content.decode()
    assert re.search(rf'<option value="{paper.pk}"[^>]* selected', html)
    assert not re.search(rf'<option value="{exchange.pk}"[^>]* selected', html)
    # and an account in the URL still wins
    html = browser.get(f"/orders/ticket/?account={exchange.pk}").content.decode()
    assert re.search(rf'<option value="{exchange.pk}"[^>]* selected', html)
