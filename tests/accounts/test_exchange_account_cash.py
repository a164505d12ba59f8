"""Who may open an account on the internal exchange (one venue shared by every exchange
account) with how much cash: admins any amount; everyone else up to the admin-set
OMS_EXCHANGE_MAX_STARTING_CASH (403 naming starting_cash above it). Paper accounts trade
alone against the quote and are not limited."""

from __future__ import annotations

import pytest

from accounts.models import TradingAccount

pytestmark = pytest.mark.django_db
URL = "/api/v1/accounts"
SIXTEEN_DIGITS = "9999999999999999"


def open_account(client, broker: str, cash: str):
    body = {"name": f"{broker} {cash}", "broker": broker, "starting_cash": cash}
    return client.post(URL, body, format="json")


def test_a_trader_may_not_open_an_exchange_account_with_sixteen_digit_cash(make_key_client, trader):
    # when a trader opens an exchange account with 16-digit starting cash
    response = open_account(make_key_client(trader), "exchange", SIXTEEN_DIGITS)
    # then it is refused in the error shape, naming starting_cash, and nothing is created
    assert response.status_code == 403, response.content
    error = response.json()["error"]
    assert error["code"] == "permission_denied"
    assert error["fields"] == {"starting_cash": ["At most 10,000,000 for an exchange account."]}
    assert "administrator" in error["message"]
    assert not TradingAccount.objects.filter(broker="exchange").exists()


def test_a_trader_may_open_an_exchange_account_up_to_the_limit(make_key_client, trader):
    response = open_account(make_key_client(trader), "exchange", "10000000")
    assert response.status_code == 201, response.content
    assert response.json()["cash"] == "10000000"


def test_the_limit_is_the_admins_setting(make_key_client, trader, settings):
    # given the back office lowered the limit to 5,000
    settings.OMS_EXCHANGE_MAX_STARTING_CASH = "5000"
    client = make_key_client(trader)
    # then 5,000.01 is refused and 5,000 accepted
    assert open_account(client, "exchange", "5000.01").status_code == 403
    assert open_account(client, "exchange", "5000").status_code == 201


def test_admins_and_paper_accounts_are_not_limited(make_key_client, admin_user, trader):
    assert open_account(make_key_client(admin_user), "exchange", SIXTEEN_DIGITS).status_code == 201
    assert open_account(make_key_client(trader), "paper", SIXTEEN_DIGITS).status_code == 201


def test_the_account_page_shows_the_limit_on_the_field(login_client, trader):
    # when a trader opens an exchange account with too much cash on the page
    response = login_client(trader).post(
        "/trading-accounts/new/",
        {"name": "Big", "broker": "exchange", "starting_cash": SIXTEEN_DIGITS, "currency": "INR"},
    )
    # then the form comes back with the reason under starting_cash, nothing created
    assert response.status_code == 200
    assert response.context["form"].errors["starting_cash"] == [
        "At most 10,000,000 for an exchange account."
    ]
    assert not TradingAccount.objects.filter(broker="exchange").exists()
