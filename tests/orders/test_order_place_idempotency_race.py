"""Racing retries of one Idempotency-Key (issue 14): the key is claimed in the order's own
transaction, so a retry that arrives while the first request still runs waits for it and
replays its answer — one order, one 201, every other answer 200 with that order."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from orders.models import Order
from tests.orders.conftest import order_body

URL = "/api/v1/orders"


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_posts_with_one_idempotency_key_make_one_order(
    make_key_client, trader, account, quoted, fake_broker
):
    if connection.vendor != "mysql":
        pytest.skip(
            "needs real concurrent connections and row locks (SQLite's in-memory test database "
            "serialises the threads on one shared cache): run with DATABASE_URL=mysql://…"
        )
    # given 10 clients of the same trader, each with its own connection, and an order body
    # without client_order_id (only the Idempotency-Key protects it)
    clients = [make_key_client(trader) for _ in range(10)]
    body = order_body(account)
    barrier = threading.Barrier(len(clients))
    answers: list[tuple[int, dict]] = []
    errors: list[BaseException] = []

    def post(api_client) -> None:
        try:
            barrier.wait()
            response = api_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="same-1")
            answers.append((response.status_code, response.json()))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(c,)) for c in clients]
    # when all of them post at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then one order exists; one answer is 201 and the others replay it with 200 (no 409)
    assert errors == []
    orders = list(Order.objects.filter(account=account))
    assert len(orders) == 1
    assert sorted(status for status, _ in answers) == [200] * 9 + [201], answers
    assert {data["id"] for _, data in answers} == {str(orders[0].pk)}
