"""How many queries placing costs (issue 18): one order, and a batch of 20 — whose
per-order share must stay a fraction of a single order's. A change that adds a query to
the path shows here."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.orders.conftest import order_body

pytestmark = pytest.mark.django_db

# BEGIN/SAVEPOINT, the account (locked, with the caller's role and risk limits), the
# instrument, the quote (SQLite: no Redis), the global kill switch, the buying power, the
# order, its `created` event, COMMIT/RELEASE.
SINGLE_ORDER_QUERIES = 9
# Per order: its savepoint and release, the order, its event.
BATCH_QUERIES_PER_ORDER = 4
BATCH_FIXED_QUERIES = 10


def _count(client, url, body) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, body, format="json")
    return len(queries.captured_queries), response


def test_one_order_costs_a_bounded_number_of_queries(client, account, quoted, fake_broker):
    # given one order placed already (caches and the API key warm)
    client.post("/api/v1/orders", order_body(account), format="json")

    # when another is placed
    count, response = _count(client, "/api/v1/orders", order_body(account))

    # then it took no more queries than the path needs
    assert response.status_code == 201, response.content
    assert count <= SINGLE_ORDER_QUERIES, count


def test_a_batch_of_20_costs_a_fraction_of_20_single_orders(client, account, quoted, fake_broker):
    # given one order placed already (caches and the API key warm)
    client.post("/api/v1/orders", order_body(account), format="json")

    # when a batch of 20 is placed
    count, response = _count(client, "/api/v1/orders/batch", {"orders": [order_body(account)] * 20})

    # then every order is placed, at 4 queries each plus the batch's own few
    assert response.status_code == 207
    assert [r["status"] for r in response.json()["results"]] == [201] * 20
    assert count <= BATCH_FIXED_QUERIES + 20 * BATCH_QUERIES_PER_ORDER, count
    assert count < 20 * SINGLE_ORDER_QUERIES / 2


def test_client_order_ids_of_a_batch_are_looked_up_in_one_query(
    client, account, quoted, fake_broker
):
    # given one order placed already (caches and the API key warm)
    client.post("/api/v1/orders", order_body(account), format="json")
    orders = [order_body(account, client_order_id=f"q-{i}") for i in range(20)]

    # when a batch of 20 orders with client_order_ids is placed
    count, response = _count(client, "/api/v1/orders/batch", {"orders": orders})

    # then their ids cost one query, not one per order
    assert [r["status"] for r in response.json()["results"]] == [201] * 20
    assert count <= BATCH_FIXED_QUERIES + 1 + 20 * BATCH_QUERIES_PER_ORDER, count
