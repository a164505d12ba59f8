"""POST /api/v1/orders/batch: each order judged on its own while the batch shares its reads
(orders/core/batch.py): accounts locked together, buying power kept in hand, one failing
order never touching another."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import GlobalKillSwitch
from orders.core.selectors import open_buy_commitment, order_commitment
from orders.models import Order, OrderEvent, OrderStatus
from tests.factories import account_with_member
from tests.orders.conftest import order_body

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders/batch"


def _statuses(response) -> list[int]:
    assert response.status_code == 207, response.content
    return [item["status"] for item in response.json()["results"]]


def test_buying_power_kept_in_hand_refuses_the_order_it_no_longer_covers(
    client, trader, quoted, fake_broker
):
    # given an account whose cash covers two of three orders of 400,000
    account = account_with_member(
        user=trader, role="owner", broker="fake", cash=Decimal("1000000"), name="Small"
    )
    orders = [order_body(account, qty="4000", limit_price="100") for _ in range(3)]

    # when the three are placed in one batch
    response = client.post(URL, {"orders": orders}, format="json")

    # then the third is refused for buying power, as it would be if placed alone after them
    assert _statuses(response) == [201, 201, 422]
    third = response.json()["results"][2]
    assert third["error"]["code"] == "risk_rejected"
    assert "buying power" in third["error"]["message"]
    assert third["order"]["status"] == "rejected"


def test_a_failing_order_leaves_the_others_of_its_account_stored_and_audited(
    client, account, quoted, fake_broker
):
    # given an order already placed with client_order_id "dup"
    first = client.post("/api/v1/orders", order_body(account, client_order_id="dup"), format="json")
    assert first.status_code == 201
    # and a batch whose middle order reuses "dup" with another body (409)
    orders = [
        order_body(account, qty="1"),
        order_body(account, qty="2", client_order_id="dup"),
        order_body(account, qty="3"),
    ]

    # when it is placed
    response = client.post(URL, {"orders": orders}, format="json")

    # then the conflict is that order's answer alone; the others are stored with their event
    assert _statuses(response) == [201, 409, 201]
    placed = [response.json()["results"][i]["order"]["id"] for i in (0, 2)]
    stored = Order.objects.filter(pk__in=placed)
    assert sorted(o.qty for o in stored) == [Decimal("1"), Decimal("3")]
    assert OrderEvent.objects.filter(order_id__in=placed, type="created").count() == 2
    assert Order.objects.filter(account=account).count() == 3


def test_orders_of_an_account_the_caller_may_only_view_are_refused_alone(
    client, account, other_user, quoted, fake_broker
):
    # given an account of another user the trader may only view, and one they cannot see
    viewed = account_with_member(user=other_user, role="owner", broker="fake", name="Theirs")
    from tests.factories import MembershipFactory

    MembershipFactory(user=account.memberships.first().user, account=viewed, role="view")
    hidden = account_with_member(user=other_user, role="owner", broker="fake", name="Hidden")
    orders = [
        order_body(viewed),
        order_body(account),
        order_body(hidden),
        order_body(account, account="not-an-id"),
    ]

    # when a batch mixes them with an order on the trader's own account
    response = client.post(URL, {"orders": orders}, format="json")

    # then view-only is 403, the hidden and malformed accounts 400, and the own order placed
    assert _statuses(response) == [403, 201, 400, 400]
    results = response.json()["results"]
    assert "account" in results[2]["error"]["fields"]
    assert Order.objects.filter(account__in=[viewed, hidden]).count() == 0


def test_the_global_kill_switch_refuses_every_order_of_the_batch(
    client, account, quoted, fake_broker
):
    # given the global kill switch engaged
    GlobalKillSwitch.objects.update_or_create(pk=1, defaults={"engaged": True})

    # when a batch is placed
    response = client.post(URL, {"orders": [order_body(account)] * 3}, format="json")

    # then each order is stored as rejected for the kill switch
    assert _statuses(response) == [422, 422, 422]
    assert {r["order"]["reject_reason"].split(":")[0] for r in response.json()["results"]} == {
        "kill_switch"
    }


def test_order_commitment_adds_up_to_open_buy_commitment(account, quoted, client, fake_broker):
    # given open buys (limit, market, held stop), a sell and a rejected buy
    bodies = [
        order_body(account, qty="3", limit_price="99"),
        order_body(account, type="market", limit_price=None, qty="2"),
        order_body(account, type="stop", limit_price=None, stop_price="120", qty="1"),
        order_body(account, side="sell", qty="1"),
        order_body(account, qty="99999999", limit_price="100"),
    ]
    client.post(URL, {"orders": bodies}, format="json")
    orders = list(Order.objects.filter(account=account))
    assert {o.status for o in orders} >= {OrderStatus.HELD, OrderStatus.REJECTED}

    # when each order's commitment is added up in hand
    in_hand = sum((order_commitment(o) for o in orders), Decimal("0"))

    # then it is what the database sums
    assert in_hand == open_buy_commitment(account) and in_hand > 0


def test_each_order_is_parsed_on_its_own_with_the_errors_a_single_post_gets(
    client, account, quoted, fake_broker
):
    # given a batch with an unknown field, a bad decimal and a number for text between
    # two good orders
    bad = [
        order_body(account, bogus=1),
        order_body(account, qty="1e3"),
        order_body(account, tag=5),
    ]
    orders = [order_body(account), *bad, order_body(account)]

    # when it is placed
    response = client.post(URL, {"orders": orders}, format="json")

    # then the bad ones are 400 each, with the error placing them alone answers
    assert _statuses(response) == [201, 400, 400, 400, 201]
    for body, item in zip(bad, response.json()["results"][1:4], strict=True):
        alone = client.post("/api/v1/orders", body, format="json")
        assert alone.status_code == 400
        assert item["error"] == alone.json()["error"]


def test_a_client_order_id_repeated_within_a_batch_is_a_replay_or_a_conflict(
    client, account, quoted, fake_broker
):
    # given a batch naming client_order_id "x" three times: twice with one body, once
    # with another
    orders = [
        order_body(account, client_order_id="x"),
        order_body(account, client_order_id="x"),
        order_body(account, client_order_id="x", qty="7"),
    ]

    # when it is placed
    response = client.post(URL, {"orders": orders}, format="json")

    # then the first is placed, the second replays it and the third is a conflict
    assert _statuses(response) == [201, 200, 409]
    results = response.json()["results"]
    assert results[1]["order"]["id"] == results[0]["order"]["id"]
    assert results[2]["order_id"] == results[0]["order"]["id"]
    assert Order.objects.filter(account=account).count() == 1
