"""API.md § Errors: every answer under /api/ is the error shape — unknown paths, bodies too
large, our own bugs, and dependencies that are down (503 with Retry-After, nothing stored).
"""

from __future__ import annotations

import logging

import kombu.exceptions
import pytest
import redis.exceptions
from django.db import OperationalError

from orders.core import place as services_place
from orders.models import Order
from tests.api.helpers import assert_error, open_account, order_body


@pytest.fixture
def placing(alice, acme):
    return alice, open_account(alice)


def test_an_unknown_api_path_posted_with_a_key_is_a_json_404(alice):
    # given a caller with a valid API key (no session, no CSRF token), CSRF checked as a
    # real server does
    alice.client.handler.enforce_csrf_checks = True
    # when it posts to a path the API does not have
    response = alice.post("/no-such-endpoint", {"a": 1})
    # then 404 not_found in the error shape (not Django's HTML CSRF page)
    assert_error(response, 404, "not_found")


def test_a_20_mb_body_is_a_json_413(placing):
    # given a 20 MB request body
    alice, account = placing
    huge = {**order_body(account), "tag": "x" * (20 * 1024 * 1024)}
    # when it is posted to an endpoint and to an unknown path
    for path in ("/orders", "/no-such-endpoint"):
        response = alice.post(path, huge)
        # then 413 payload_too_large in the error shape
        assert_error(response, 413, "payload_too_large")
    assert Order.objects.count() == 0


def test_an_unexpected_error_is_a_json_500_and_logged(placing, monkeypatch, caplog):
    # given a bug deep in placing an order
    alice, account = placing

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("orders.api.orders.services.order_place", broken)
    alice.client.raise_request_exception = False
    # when an order is posted
    with caplog.at_level(logging.ERROR):
        response = alice.post("/orders", order_body(account))
    # then 500 in the error shape (not Django's HTML "Server Error (500)"), and the
    # traceback is in the log
    assert_error(response, 500, "server_error")
    assert any(record.exc_info for record in caplog.records), caplog.text


@pytest.mark.parametrize(
    "failure",
    [
        redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6390."),
        OperationalError(2006, "MySQL server has gone away"),
    ],
    ids=["redis", "database"],
)
def test_a_dependency_down_mid_request_is_a_503_with_retry_after_and_nothing_stored(
    placing, monkeypatch, failure
):
    # given the order row is written when a dependency stops answering (the push before
    # the commit is the last step of the placement's transaction)
    alice, account = placing

    def down(order):
        raise failure

    monkeypatch.setattr(services_place, "order_publish", down)
    # when an order is posted, with and without an Idempotency-Key
    for extra in ({}, {"HTTP_IDEMPOTENCY_KEY": f"down-{type(failure).__name__}"}):
        response = alice.post("/orders", order_body(account), **extra)
        # then 503 service_unavailable with Retry-After, and no order is stored
        assert_error(response, 503, "service_unavailable")
        assert int(response["Retry-After"]) > 0
    assert Order.objects.count() == 0
    # and once the dependency is back, the retry with that key places the order
    monkeypatch.undo()
    retry = alice.post(
        "/orders", order_body(account), HTTP_IDEMPOTENCY_KEY=f"down-{type(failure).__name__}"
    )
    assert retry.status_code == 201, retry.content
    assert Order.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_broker_down_at_commit_answers_201_and_the_retry_replays_it(placing, monkeypatch, caplog):
    # given Redis (the Celery broker) is down when the order's submission is enqueued,
    # after the order and its Idempotency-Key are committed
    alice, account = placing

    def broker_down(*args, **kwargs):
        raise kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6390.")

    # (the order's own submission task, or the drain task that submits paper and exchange
    # orders in bursts: both go through the broker)
    monkeypatch.setattr("orders.tasks.order_submit_task.delay", broker_down)
    monkeypatch.setattr("orders.core.tasks.orders_submit_drain_task.delay", broker_down)
    body = order_body(account, client_order_id="outage-1")
    # when the order is posted, and the client retries with the same key
    with caplog.at_level(logging.ERROR):
        first = alice.post("/orders", body, HTTP_IDEMPOTENCY_KEY="outage-key")
    again = alice.post("/orders", body, HTTP_IDEMPOTENCY_KEY="outage-key")
    # then the answer tells the truth: 201, the order exists (pending_new: the sweeper
    # submits it), and the failed enqueue is logged
    assert first.status_code == 201, first.content
    assert first.json()["status"] == "pending_new"
    assert "could not be enqueued" in caplog.text
    # and the retry replays it: 200, the same order, one order in all
    assert again.status_code == 200, again.content
    assert again.json()["id"] == first.json()["id"]
    assert Order.objects.count() == 1
