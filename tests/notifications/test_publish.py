"""notifications.services.publish / publish_now: what reaches the channel layer, and when."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from notifications import publishing, services
from notifications.services import apublish, publish, publish_now
from tests.factories import TradingAccountFactory

pytestmark = pytest.mark.django_db


class GroupListener:
    """A bare channel in one group, read directly from the channel layer."""

    def __init__(self, group: str) -> None:
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(group, self.channel)

    def receive(self) -> dict:
        async def _receive():
            return await asyncio.wait_for(self.layer.receive(self.channel), timeout=5)

        return async_to_sync(_receive)()


def test_publish_waits_for_commit_then_sends_json_safe_data(django_capture_on_commit_callbacks):
    # given a listener on the account's group
    account = TradingAccountFactory()
    listener = GroupListener(f"acct.{account.pk}.orders")

    # when an event is published inside a transaction
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        publish(
            channel="orders",
            event="order.updated",
            data={"qty": Decimal("100.00"), "account": account.pk},
            account_id=account.pk,
        )
        assert callbacks == []  # nothing is sent before the commit

    # then it is sent once, after commit, with plain JSON data
    assert len(callbacks) == 1
    message = listener.receive()
    assert message["event"] == "order.updated"
    assert message["data"] == {"qty": "100", "account": str(account.pk)}
    assert message["account_id"] == str(account.pk)


def test_publish_in_a_rolled_back_savepoint_is_never_sent(django_capture_on_commit_callbacks):
    # given a listener on the account's group
    account = TradingAccountFactory()
    listener = GroupListener(f"acct.{account.pk}.fills")

    # when a publish happens in a block that rolls back, then another one commits
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                publish(channel="fills", event="fill.phantom", data={}, account_id=account.pk)
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        publish(channel="fills", event="fill.created", data={}, account_id=account.pk)

    # then the first message on the group is the committed one
    assert listener.receive()["event"] == "fill.created"


def test_payload_is_snapshotted_at_publish_time(django_capture_on_commit_callbacks):
    # given a caller that keeps mutating its dict after publishing
    account = TradingAccountFactory()
    listener = GroupListener(f"acct.{account.pk}.positions")
    data = {"qty": Decimal("1")}
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        publish(channel="positions", event="position.updated", data=data, account_id=account.pk)
        data["qty"] = Decimal("999")
    # then subscribers see what was published
    assert listener.receive()["data"] == {"qty": "1"}


def test_publish_now_sends_market_data_right_away():
    listener = GroupListener("quotes.ACME")
    publish_now(channel="quotes:ACME", event="quote", data={"last": Decimal("10.50")})
    message = listener.receive()
    assert (message["kind"], message["symbol"], message["data"]) == (
        "quotes",
        "ACME",
        {"last": "10.5"},
    )


def test_apublish_sends_from_async_code():
    listener = GroupListener("book.ACME")
    async_to_sync(apublish)(channel="book:ACME", event="book", data={"bids": []})
    assert listener.receive()["data"] == {"bids": []}


def test_publish_from_async_code_is_refused():
    async def from_event_loop():
        publish_now(channel="quotes:ACME", event="quote", data={})

    with pytest.raises(RuntimeError, match="apublish"):
        async_to_sync(from_event_loop)()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"channel": "orders", "event": "order.updated", "data": {}},  # no account_id
        {"channel": "nope", "event": "x", "data": {}, "account_id": "a"},
        {"channel": "quotes:ACME", "event": "", "data": {}},
    ],
)
def test_misuse_fails_loudly_at_publish_time(kwargs):
    with pytest.raises(ValueError):
        publish(**kwargs)


def test_non_json_payload_fails_loudly_at_publish_time():
    with pytest.raises(TypeError):
        publish_now(channel="quotes:ACME", event="quote", data={"when": object()})
    with pytest.raises(TypeError):
        publish_now(channel="quotes:ACME", event="quote", data=["not", "a", "mapping"])


def test_a_broken_channel_layer_is_logged_not_raised(monkeypatch, caplog):
    # given a channel layer that is down
    class DownLayer:
        async def group_send(self, group, message):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(publishing, "get_channel_layer", DownLayer)

    # when publishing: the caller's work (already committed) is not failed by the push
    with caplog.at_level(logging.ERROR, logger="notifications.publishing"):
        publish_now(channel="quotes:ACME", event="quote", data={"last": "1"})

    # then the failure is reported
    assert "Live push to ['quotes.ACME'] failed" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_batch_outside_a_transaction_sends_each_push_at_once():
    # given a listener and no transaction open
    account = TradingAccountFactory()
    listener = GroupListener(f"acct.{account.pk}.orders")
    batch = services.publish_batch()
    # when a push is added, there being no commit to wait for
    batch.add(channel="orders", event="order.updated", data={"n": 1}, account_id=account.pk)
    # then it is delivered right away
    assert listener.receive()["data"] == {"n": 1}


def test_a_batch_sends_its_pushes_in_order_on_commit(django_capture_on_commit_callbacks):
    account = TradingAccountFactory()
    listener = GroupListener(f"acct.{account.pk}.orders")
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        batch = services.publish_batch()
        for n in (1, 2, 3):
            batch.add(channel="orders", event="order.updated", data={"n": n}, account_id=account.pk)
        assert callbacks == []
    assert len(callbacks) == 1
    assert [listener.receive()["data"]["n"] for _ in range(3)] == [1, 2, 3]
