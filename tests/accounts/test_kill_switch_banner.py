"""The kill-switch banner (accounts/context_kill_switch.py, templates/base.html): while the
global switch, or the switch of an account the user sees, is engaged, every page says so —
not only the order ticket's risk check."""

from __future__ import annotations

import pytest

from accounts import risk_services
from accounts.models import GlobalKillSwitch
from tests.factories import account_with_member
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory

pytestmark = pytest.mark.django_db

TRADING_PAGES = [
    "/",
    "/watchlist/",
    "/orders/ticket/",
    "/orders/",
    "/orderbook/",
    "/positions/",
    "/pnl/",
    "/gtt/",
    "/schedules/",
    "/trading-accounts/",
    "/api-keys/",
    "/notifications/",
]
BANNER = 'id="kill-switch-banner"'


def _html(client, path: str) -> str:
    response = client.get(path, follow=True)
    assert response.status_code == 200, path
    return response.content.decode()


def test_every_page_shows_the_banner_while_the_global_switch_is_on(
    login_client, trader, admin_user
):
    # given a trader with an account, and the admin engaging the global switch with a reason
    InstrumentFactory(symbol="ACME", exchange=ExchangeFactory())
    account_with_member(user=trader, name="Swing")
    risk_services.global_kill_switch_set(actor=admin_user, engaged=True, reason="exchange outage")
    client = login_client(trader)
    # when the trader opens each trading page, then each one carries the banner and the reason
    for path in TRADING_PAGES:
        html = _html(client, path)
        assert BANNER in html, path
        assert "Global kill switch engaged" in html and "exchange outage" in html, path


def test_an_account_switch_names_the_halted_account_to_those_who_see_it_only(
    login_client, trader, other_trader, admin_user
):
    # given the trader's account "Swing" halted by its own switch, and another trader's account
    swing = account_with_member(user=trader, name="Swing")
    account_with_member(user=trader, name="Calm")
    account_with_member(user=other_trader, name="Elsewhere")
    risk_services.account_kill_switch_set(actor=admin_user, account=swing, engaged=True)
    # when the trader opens the blotter, then the banner names Swing (not Calm)
    html = _html(login_client(trader), "/orders/")
    assert BANNER in html
    banner = html.split(BANNER, 1)[1].split("</div>", 1)[0]
    assert "Swing" in banner and "Calm" not in banner
    # and someone who does not see that account gets no banner at all
    assert BANNER not in _html(login_client(other_trader), "/orders/")


def test_no_banner_when_every_switch_is_released(login_client, trader, admin_user):
    # given a switch engaged, then released
    swing = account_with_member(user=trader, name="Swing")
    risk_services.account_kill_switch_set(actor=admin_user, account=swing, engaged=True)
    risk_services.account_kill_switch_set(actor=admin_user, account=swing, engaged=False)
    GlobalKillSwitch.load()
    # when the trader opens the dashboard and the ticket, then there is no banner
    client = login_client(trader)
    assert BANNER not in _html(client, "/")
    assert BANNER not in _html(client, "/orders/ticket/")


def test_the_login_page_has_no_banner(client, admin_user):
    risk_services.global_kill_switch_set(actor=admin_user, engaged=True)
    assert BANNER not in _html(client, "/accounts/login/")


def test_an_admin_sees_how_many_accounts_are_halted_not_an_endless_list(
    login_client, trader, admin_user
):
    # given seven halted accounts
    for n in range(7):
        account = account_with_member(user=trader, name=f"Book {n}")
        risk_services.account_kill_switch_set(actor=admin_user, account=account, engaged=True)
    # when the admin (who sees every account) opens the blotter
    html = _html(login_client(admin_user), "/orders/")
    banner = html.split(BANNER, 1)[1].split("</div>", 1)[0]
    # then five are named and the rest counted
    assert "Book 0, Book 1, Book 2, Book 3, Book 4 and 2 more" in banner
    assert "Book 5" not in banner
