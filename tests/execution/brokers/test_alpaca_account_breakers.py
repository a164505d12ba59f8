"""One circuit breaker per Alpaca ACCOUNT (issue 15, Bad input and faults): an account whose
broker URL is dead trips its own breaker — its calls answer broker_unavailable (503), it
shows `disconnected` and its members are told once — while the broker's other accounts keep
trading; when it answers again it is `connected` again. Against the loopback Alpaca fake."""

from __future__ import annotations

import socket
import time
from decimal import Decimal

import pytest

from accounts.models import BrokerConnection
from execution.connections import account_funds
from execution.protocol import BrokerUnavailableError, ReportType
from execution.services import broker_caller, broker_positions, broker_submit
from notifications.models import Notification
from tests.execution.brokers.alpaca_support import *  # noqa: F403 - its fixtures
from tests.execution.brokers.alpaca_support import OMS_SYMBOL, make_connection
from tests.execution.factories import order_request
from tests.factories import MembershipFactory, RiskLimitsFactory, TradingAccountFactory

pytestmark = pytest.mark.django_db(transaction=True)


def dead_url() -> str:
    """An address where nothing listens (a port taken and given back)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def alpaca_account(fake, user, name, **settings):
    account = TradingAccountFactory(
        broker="alpaca",
        name=name,
        connection=make_connection(fake, **settings),
        currency="USD",
        cash=Decimal("100000"),
    )
    MembershipFactory(user=user, account=account, role="owner")
    RiskLimitsFactory(account=account)
    return account


@pytest.fixture
def good(fake, instrument, trader):
    return alpaca_account(fake, trader, "Alpaca good")


@pytest.fixture
def dead(fake, instrument, trader):
    return alpaca_account(fake, trader, "Alpaca dead", base_url=dead_url())


def limit_order(account):
    return order_request(
        broker="alpaca",
        account_id=str(account.pk),
        symbol=OMS_SYMBOL,
        side="buy",
        qty="1",
        type="limit",
        limit_price="150",
    )


def status_of(account) -> str:
    return BrokerConnection.objects.get(pk=account.connection_id).status


def told(account) -> list[str]:
    notes = Notification.objects.filter(kind="broker.status_changed", account=account)
    return [n.data["status"] for n in notes.order_by("created_at")]


def test_a_dead_account_trips_only_its_own_breaker_and_the_others_still_trade(
    good, dead, broker, control, sink
):
    # Given two Alpaca accounts, one whose base URL answers nothing
    # When an order is sent on the dead one (three attempts: the breaker's threshold)
    with pytest.raises(BrokerUnavailableError):
        broker_submit(limit_order(dead))
    # Then its breaker is open: its next call fails at once, in words
    with pytest.raises(BrokerUnavailableError, match="circuit breaker open"):
        broker_positions(broker="alpaca", account_id=str(dead.pk))
    assert broker_caller(broker="alpaca", account_id=str(dead.pk)).breaker.state == "open"
    # and the other account still trades at the same broker
    [ack] = broker_submit(limit_order(good))
    assert ack.type == ReportType.ACK
    assert [o["client_order_id"] for o in control.orders()] == [ack.order_id]
    assert broker_caller(broker="alpaca", account_id=str(good.pk)).breaker.state == "closed"
    # and only the dead one shows disconnected, its members told once
    assert status_of(dead) == "disconnected"
    assert told(dead) == ["disconnected"]
    assert status_of(good) == "connected" and told(good) == ["connected"]


def test_the_dead_account_is_connected_again_once_it_answers(good, dead, broker, control, settings):
    settings.OMS_BROKER_POLICIES = {
        "alpaca": {"failure_threshold": 2, "max_attempts": 1, "cooldown_s": 0.3}
    }
    # Given the dead account's breaker opened
    for _ in range(2):
        with pytest.raises(BrokerUnavailableError):
            broker_positions(broker="alpaca", account_id=str(dead.pk))
    assert status_of(dead) == "disconnected"
    # When its URL is put right and the cool-down has passed
    connection = BrokerConnection.objects.get(pk=dead.connection_id)
    connection.settings = {**connection.settings, "base_url": control.server.base_url}
    connection.save(update_fields=["settings"])
    time.sleep(0.35)
    # Then the next call (the probe) goes through and closes the breaker
    assert broker_positions(broker="alpaca", account_id=str(dead.pk)) == []
    assert broker_caller(broker="alpaca", account_id=str(dead.pk)).breaker.state == "closed"
    # and the account is connected again, each change told once
    assert status_of(dead) == "connected"
    assert told(dead) == ["disconnected", "connected"]


def test_the_broker_status_api_shows_the_dead_account_disconnected_in_words(
    good, dead, broker, make_key_client, trader
):
    # Given the dead account's breaker opened
    with pytest.raises(BrokerUnavailableError):
        broker_submit(limit_order(dead))
    client = make_key_client(trader)
    # When both accounts' broker status is read
    dead_status = client.get(f"/api/v1/accounts/{dead.pk}/broker").json()
    good_status = client.get(f"/api/v1/accounts/{good.pk}/broker").json()
    # Then the dead one is disconnected and says why; the other is not affected
    assert dead_status["status"] == "disconnected"
    assert dead_status["detail"].startswith("Alpaca is not answering: 3 calls in a row failed")
    assert "Could not reach Alpaca at http://127.0.0.1:" in dead_status["detail"]
    assert good_status["detail"] == "Not checked yet: run the connection test."


def test_an_order_call_on_the_dead_account_answers_503_broker_unavailable(
    good, broker, control, make_key_client, trader
):
    client = make_key_client(trader)
    # Given a resting order on an Alpaca account (its funds read first, outside the order's
    # transaction: SQLite lets the adapter's thread read nothing while that one writes)
    assert account_funds(good).buying_power == Decimal("100000")
    placed = client.post(
        "/api/v1/orders",
        {
            "account": str(good.pk),
            "symbol": OMS_SYMBOL,
            "side": "buy",
            "type": "limit",
            "qty": "1",
            "limit_price": "150",
            "time_in_force": "day",
        },
        format="json",
    )
    assert placed.status_code == 201, placed.content
    order_id = placed.json()["id"]
    assert client.get(f"/api/v1/orders/{order_id}").json()["status"] == "new"
    # When the account's broker stops answering and the order is canceled
    connection = BrokerConnection.objects.get(pk=good.connection_id)
    connection.settings = {**connection.settings, "base_url": dead_url()}
    connection.save(update_fields=["settings"])
    answer = client.delete(f"/api/v1/orders/{order_id}")
    # Then the API answers 503 broker_unavailable, and the account shows disconnected
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "broker_unavailable"
    assert status_of(good) == "disconnected"
    # and while its breaker is open, the next call is refused at once in words
    again = client.delete(f"/api/v1/orders/{order_id}")
    assert again.status_code == 503 and "circuit breaker open" in again.json()["error"]["message"]
