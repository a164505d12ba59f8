"""Racing re-posts of one client_order_id (API.md § Idempotency): exactly one order, exactly
one 201, every other answer 200 with that order."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from orders.core import place as services_place
from orders.models import Order
from tests.orders.conftest import order_body

URL = "/api/v1/orders"


@pytest.mark.django_db
def test_a_replay_found_under_the_account_lock_answers_200(
    client, account, quoted, fake_broker, monkeypatch
):
    # given an order placed with client_order_id "dup-1"
    first = client.post(URL, order_body(account, client_order_id="dup-1"), format="json")
    assert first.status_code == 201, first.json()
    # and a second request whose first (unlocked) lookup ran before that order was committed,
    # so only the re-check under the account lock sees it
    lookup = services_place._existing_for_client_order_id
    calls: list[int] = []

    def lookup_that_misses_first(**kwargs):
        calls.append(1)
        return None if len(calls) == 1 else lookup(**kwargs)

    monkeypatch.setattr(services_place, "_existing_for_client_order_id", lookup_that_misses_first)

    # when that second request is answered
    second = client.post(URL, order_body(account, client_order_id="dup-1"), format="json")

    # then it is the replay: 200 with the first order, and still one order
    assert len(calls) == 2
    assert second.status_code == 200, second.json()
    assert second.json()["id"] == first.json()["id"]
    assert Order.objects.filter(account=account, client_order_id="dup-1").count() == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_posts_make_one_order_and_one_201(
    make_key_client, trader, account, quoted, fake_broker
):
    if connection.vendor != "mysql":
        pytest.skip(
            "needs real concurrent connections and row locks (SQLite's in-memory test database "
            "serialises the threads on one shared cache): run with DATABASE_URL=mysql://…"
        )
    # given 20 clients of the same trader, each with its own connection
    clients = [make_key_client(trader) for _ in range(20)]
    body = order_body(account, client_order_id="race-1")
    barrier = threading.Barrier(len(clients))
    answers: list[tuple[int, dict]] = []
    errors: list[BaseException] = []

    def post(api_client) -> None:
        try:
            barrier.wait()
            response = api_client.post(URL, body, format="json")
            answers.append((response.status_code, response.json()))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(c,)) for c in clients]
    # when all of them post the same client_order_id at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then one order exists, one answer is 201 and the 19 others are 200 with that order
    assert errors == []
    orders = list(Order.objects.filter(account=account, client_order_id="race-1"))
    assert len(orders) == 1
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * 19 + [201], answers
    assert {data["id"] for _, data in answers} == {str(orders[0].pk)}
