"""Pages of real-broker accounts: the connect page per broker (defaults prefilled and
explained, credentials as password inputs, errors on their fields), the connection page
(status badge, test button for traders of the account, Kite's login), the account pages
showing the broker's cash and the connection's status — never the credentials."""

from __future__ import annotations

import pytest

from accounts import services as account_services
from accounts.models import TradingAccount
from execution.protocol import BrokerUnavailableError
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

CREDENTIALS = {"key_id": "PKPAGE", "secret_key": "page-secret-value"}


@pytest.fixture
def alpaca_account(connected_broker, trader):
    return account_services.account_create(
        actor=trader, name="Alpaca main", broker="alpaca", credentials=CREDENTIALS
    )


def test_connect_page_prefills_and_explains_the_defaults(connected_broker, login_client, trader):
    # When a trader opens the Alpaca connect page
    response = login_client(trader).get("/trading-accounts/connect/alpaca/")
    html = response.content.decode()
    # Then the URLs are prefilled with Alpaca paper's, explained, and the secrets are hidden
    assert response.status_code == 200
    assert 'value="https://paper-api.alpaca.markets"' in html
    assert 'value="wss://paper-api.alpaca.markets/stream"' in html
    assert "Default: https://paper-api.alpaca.markets" in html
    assert 'type="password" name="cred_secret_key"' in html
    assert "Test connection" in html


def test_connecting_creates_the_account_and_opens_its_connection_page(
    connected_broker, login_client, trader
):
    client = login_client(trader)
    # When the form is sent with credentials and the default URLs
    response = client.post(
        "/trading-accounts/connect/alpaca/",
        {
            "name": "Alpaca paper",
            "cred_key_id": "PKPAGE",
            "cred_secret_key": "page-secret-value",
            "set_base_url": "https://paper-api.alpaca.markets",
            "set_stream_url": "wss://paper-api.alpaca.markets/stream",
        },
    )
    # Then the account exists and its connection page opens, without the secret anywhere
    account = TradingAccount.objects.get(name="Alpaca paper")
    assert response.status_code == 302
    assert response["Location"] == f"/trading-accounts/{account.pk}/broker/"
    page = client.get(response["Location"]).content.decode()
    assert "Test connection" in page and "never" in page
    assert "page-secret-value" not in page and "PKPAGE" not in page


def test_a_missing_key_and_a_bad_url_are_shown_on_their_fields(
    connected_broker, login_client, trader
):
    # When the form lacks the secret and has an ftp URL
    response = login_client(trader).post(
        "/trading-accounts/connect/alpaca/",
        {"name": "A", "cred_key_id": "PK1", "set_base_url": "ftp://x.example"},
    )
    html = response.content.decode()
    # Then nothing is created and both fields say why
    assert response.status_code == 400
    assert not TradingAccount.objects.exists()
    assert "This field is required." in html
    # the URL error comes from the service, shown on its field after the secret is given
    response = login_client(trader).post(
        "/trading-accounts/connect/alpaca/",
        {"name": "A", "cred_key_id": "PK1", "cred_secret_key": "s", "set_base_url": "ftp://x"},
    )
    assert "Only https or http URLs are allowed." in response.content.decode()
    assert not TradingAccount.objects.exists()


def test_unknown_broker_kinds_have_no_connect_page(no_real_brokers, login_client, trader):
    # Given no Kite adapter installed
    assert login_client(trader).get("/trading-accounts/connect/kite/").status_code == 404


def test_viewers_may_not_open_accounts(connected_broker, login_client, viewer):
    assert login_client(viewer).get("/trading-accounts/connect/alpaca/").status_code == 403


def test_the_accounts_page_links_to_the_connect_pages(connected_broker, login_client, trader):
    html = login_client(trader).get("/trading-accounts/").content.decode()
    assert 'href="/trading-accounts/connect/alpaca/"' in html and "Connect Alpaca" in html


def test_connection_page_test_button_for_traders_only(
    alpaca_account, login_client, trader, other_trader
):
    # Given a view-only member besides the owner
    MembershipFactory(user=other_trader, account=alpaca_account, role="view")
    url = f"/trading-accounts/{alpaca_account.pk}/broker/"
    # Then the owner gets the test button, the viewer the status only
    owner_page = login_client(trader).get(url).content.decode()
    viewer_page = login_client(other_trader).get(url).content.decode()
    assert 'id="broker-test"' in owner_page
    assert 'id="broker-test"' not in viewer_page and 'id="broker-status"' in viewer_page
    assert "https://paper-api.alpaca.markets" in viewer_page


def test_other_users_connection_pages_are_not_found(alpaca_account, login_client, other_trader):
    url = f"/trading-accounts/{alpaca_account.pk}/broker/"
    assert login_client(other_trader).get(url).status_code == 404


def test_account_page_shows_the_brokers_cash_and_the_status_badge(
    alpaca_account, login_client, trader
):
    html = login_client(trader).get(f"/trading-accounts/{alpaca_account.pk}/").content.decode()
    assert "2,500.50 USD" in html and "5,001.00 USD" in html
    assert "data-broker-status" in html and "js/accounts/broker.js" in html
    assert "page-secret-value" not in html


def test_account_page_says_in_words_when_the_broker_does_not_answer(
    connected_broker, alpaca_account, login_client, trader
):
    # Given a broker that never answered
    connected_broker.funds_error = BrokerUnavailableError("connect timeout")
    html = login_client(trader).get(f"/trading-accounts/{alpaca_account.pk}/").content.decode()
    # Then the page says so, and shows no figure it does not have
    assert "Alpaca is not answering (connect timeout)." in html
    assert "Traceback" not in html


def test_kite_accounts_get_a_login_button(connected_broker, login_client, trader):
    from execution import registry

    # Given a Kite adapter (the in-test broker registered as kite too) and a Kite account
    registry.register_adapter("kite", lambda: connected_broker)  # connected_broker restores
    account = account_services.account_create(
        actor=trader,
        name="Kite",
        broker="kite",
        credentials={"api_key": "kk", "api_secret": "ks"},
    )
    # When its connection page is opened
    html = login_client(trader).get(f"/trading-accounts/{account.pk}/broker/").content.decode()
    # Then it offers Kite's login through the API, and shows Kite's default URLs
    assert 'id="broker-login"' in html and "Log in to Zerodha Kite" in html
    assert f'data-login-url="/api/v1/accounts/{account.pk}/broker/login"' in html
    assert "https://kite.zerodha.com/connect/login" in html and "wss://ws.kite.trade" in html
    assert account.currency == "INR"
