"""POST /api/v1/accounts for real brokers (API.md § Brokers): per-broker credentials and
settings, validated; credentials encrypted and never echoed; settings echoed with defaults;
cash and buying power read from the broker (cached), the last known value on errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.crypto import decrypt_credentials
from accounts.models import BrokerConnection, TradingAccount
from execution.protocol import BrokerUnavailableError, PermanentBrokerError

pytestmark = pytest.mark.django_db

ALPACA_CREDENTIALS = {"key_id": "PKTEST123", "secret_key": "s3cr3t-alpaca-value"}


def _open(client, **body):
    payload = {"name": "My Alpaca", "broker": "alpaca", "credentials": ALPACA_CREDENTIALS}
    payload.update(body)
    return client.post("/api/v1/accounts", payload, format="json")


def test_alpaca_account_gets_its_connection_with_paper_defaults(
    connected_broker, make_key_client, trader
):
    # Given a trader and an installed Alpaca adapter
    client = make_key_client(trader)
    # When they open an Alpaca account with credentials only
    response = _open(client)
    # Then it is created in USD with a connection holding Alpaca paper's URLs
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["broker"] == "alpaca" and body["currency"] == "USD"
    assert body["connection"]["settings"] == {
        "base_url": "https://paper-api.alpaca.markets",
        "stream_url": "wss://paper-api.alpaca.markets/stream",
    }
    assert body["connection"]["has_credentials"] is True
    # and the credentials are stored encrypted, exactly as given
    connection = BrokerConnection.objects.get(pk=body["connection"]["id"])
    assert "s3cr3t" not in connection.credentials_encrypted
    assert decrypt_credentials(connection.credentials_encrypted) == ALPACA_CREDENTIALS


def test_credentials_are_never_in_any_answer(connected_broker, make_key_client, trader):
    # Given an Alpaca account opened through the API
    client = make_key_client(trader)
    created = _open(client)
    account_id = created.json()["id"]
    # When it is read back alone and in the list
    answers = [
        created.content,
        client.get(f"/api/v1/accounts/{account_id}").content,
        client.get("/api/v1/accounts").content,
        client.get(f"/api/v1/accounts/{account_id}/broker").content,
    ]
    # Then no answer carries the secret (or the key id)
    for content in answers:
        assert b"s3cr3t-alpaca-value" not in content
        assert b"PKTEST123" not in content


def test_custom_settings_are_kept_and_echoed(connected_broker, make_key_client, trader):
    # Given a loopback fake of Alpaca
    urls = {"base_url": "http://127.0.0.1:8765/", "stream_url": "ws://127.0.0.1:8765/stream"}
    # When an account is opened against it
    body = _open(make_key_client(trader), settings=urls).json()
    # Then the URLs are kept (without a trailing slash) and shown
    assert body["connection"]["settings"] == {
        "base_url": "http://127.0.0.1:8765",
        "stream_url": "ws://127.0.0.1:8765/stream",
    }


@pytest.mark.parametrize(
    ("credentials", "field"),
    [
        ({"key_id": "PK1"}, "credentials.secret_key"),
        ({"secret_key": "x"}, "credentials.key_id"),
        ({"key_id": "PK1", "secret_key": ""}, "credentials.secret_key"),
        ({"key_id": "PK1", "secret_key": "x", "password": "y"}, "credentials.password"),
        ({"key_id": 5, "secret_key": "x"}, "credentials.key_id"),
    ],
)
def test_missing_or_wrong_credential_keys_are_named(
    connected_broker, make_key_client, trader, credentials, field
):
    # Given Alpaca credentials with a key missing, empty, unknown or not text
    # When an account is opened with them
    response = _open(make_key_client(trader), credentials=credentials)
    # Then it is a 400 naming the key, and nothing is stored
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not TradingAccount.objects.exists() and not BrokerConnection.objects.exists()


def test_no_credentials_at_all_is_refused(connected_broker, make_key_client, trader):
    # Given no credentials
    client = make_key_client(trader)
    # When an Alpaca account is opened
    response = client.post("/api/v1/accounts", {"name": "A", "broker": "alpaca"}, format="json")
    # Then both required keys are named
    fields = response.json()["error"]["fields"]
    assert response.status_code == 400
    assert {"credentials.key_id", "credentials.secret_key"} <= set(fields)


@pytest.mark.parametrize(
    ("given_settings", "field"),
    [
        ({"base_url": "ftp://example.com"}, "settings.base_url"),
        ({"base_url": "javascript:alert(1)"}, "settings.base_url"),
        ({"base_url": "wss://paper-api.alpaca.markets"}, "settings.base_url"),
        ({"stream_url": "https://paper-api.alpaca.markets/stream"}, "settings.stream_url"),
        ({"stream_url": "not a url"}, "settings.stream_url"),
        ({"base_url": 42}, "settings.base_url"),
        ({"root": "https://api.kite.trade"}, "settings.root"),
    ],
)
def test_bad_urls_and_unknown_settings_are_named(
    connected_broker, make_key_client, trader, given_settings, field
):
    # Given a setting with a wrong scheme, not a URL, or not Alpaca's
    # When an account is opened with it
    response = _open(make_key_client(trader), settings=given_settings)
    # Then it is a 400 naming the setting
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_paper_account_takes_no_settings_and_still_needs_starting_cash(make_key_client, trader):
    client = make_key_client(trader)
    # Given a paper account with broker settings
    with_settings = client.post(
        "/api/v1/accounts",
        {"name": "P", "broker": "paper", "starting_cash": "100", "settings": {"base_url": "x"}},
        format="json",
    )
    # and one without starting cash
    without_cash = client.post("/api/v1/accounts", {"name": "P", "broker": "paper"}, format="json")
    # Then both are refused, naming the field
    assert with_settings.status_code == 400
    assert "settings" in with_settings.json()["error"]["fields"]
    assert without_cash.status_code == 400
    assert "starting_cash" in without_cash.json()["error"]["fields"]


def test_kite_is_unknown_until_its_adapter_is_installed(no_real_brokers, make_key_client, trader):
    # Given no Kite adapter registered
    client = make_key_client(trader)
    # When a Kite account is opened
    response = client.post(
        "/api/v1/accounts",
        {"name": "K", "broker": "kite", "credentials": {"api_key": "k", "api_secret": "s"}},
        format="json",
    )
    # Then the broker is refused by name
    assert response.status_code == 400
    assert "broker" in response.json()["error"]["fields"]


# --- Funds from the broker ----------------------------------------------------------------
def test_cash_and_buying_power_come_from_the_broker(connected_broker, make_key_client, trader):
    # Given an Alpaca account whose broker reports 2,500.50 cash and 5,001 buying power
    client = make_key_client(trader)
    account_id = _open(client).json()["id"]
    # When the account is read twice
    first = client.get(f"/api/v1/accounts/{account_id}").json()
    client.get(f"/api/v1/accounts/{account_id}")
    # Then the broker's figures are shown, and the broker was asked once (cached)
    assert first["cash"] == "2500.5" and first["buying_power"] == "5001"
    assert first["funds"]["source"] == "broker" and first["funds"]["error"] == ""
    assert first["funds"]["as_of"] is not None
    assert connected_broker.funds_calls == 1


def test_broker_error_shows_the_last_known_funds_with_their_age(
    connected_broker, make_key_client, trader
):
    # Given an Alpaca account whose funds were read once
    client = make_key_client(trader)
    account_id = _open(client).json()["id"]
    client.get(f"/api/v1/accounts/{account_id}")
    # When the fresh value has expired and the broker stops answering
    from django.core.cache import cache

    cache.delete(f"exec:funds:{account_id}:fresh")
    connected_broker.funds_error = BrokerUnavailableError("circuit breaker open")
    body = client.get(f"/api/v1/accounts/{account_id}").json()
    # Then the last known figures are shown, with why and how old they are
    assert body["cash"] == "2500.5"
    assert "not answering" in body["funds"]["error"]
    assert "Showing the figures of" in body["funds"]["error"]


def test_broker_error_without_a_known_value_is_said_in_words(
    connected_broker, make_key_client, trader
):
    # Given an Alpaca account whose broker refuses from the start
    connected_broker.funds_error = PermanentBrokerError("forbidden: wrong key")
    client = make_key_client(trader)
    account_id = _open(client).json()["id"]
    # When it is read
    response = client.get(f"/api/v1/accounts/{account_id}")
    # Then cash and buying power are unknown (null) and the reason is in words
    body = response.json()
    assert response.status_code == 200
    assert body["cash"] is None and body["buying_power"] is None
    assert "refused" in body["funds"]["error"] and "wrong key" in body["funds"]["error"]
    assert "Traceback" not in response.content.decode()


def test_an_adapter_bug_is_words_not_a_trace(connected_broker, make_key_client, trader):
    # Given an adapter whose funds call crashes
    connected_broker.funds_error = KeyError("equity")
    client = make_key_client(trader)
    account_id = _open(client).json()["id"]
    # When the account is read
    body = client.get(f"/api/v1/accounts/{account_id}").json()
    # Then the page-facing error names what failed, not a stack trace
    assert body["funds"]["error"] == "Alpaca's funds could not be read (KeyError)."


def test_paper_accounts_keep_their_own_ledger(connected_broker, make_key_client, trader):
    # Given a paper account
    client = make_key_client(trader)
    body = client.post(
        "/api/v1/accounts", {"name": "P", "broker": "paper", "starting_cash": "100"}, format="json"
    ).json()
    # Then its cash is OMS's and no broker was asked
    assert body["cash"] == "100" and body["funds"] == {"source": "oms", "as_of": None, "error": ""}
    assert connected_broker.funds_calls == 0


def test_buying_power_for_risk_is_the_brokers(connected_broker, trader):
    # Given an Alpaca account (the broker says 5,001 buying power)
    from accounts import selectors, services

    account = services.account_create(
        actor=trader, name="A", broker="alpaca", credentials=ALPACA_CREDENTIALS
    )
    # When the pre-trade checks ask for its buying power
    # Then it is the broker's figure
    assert selectors.account_buying_power(account=account) == Decimal("5001")
