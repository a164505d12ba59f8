"""Deeply nested JSON is a 400 validation_error in the error shape, never a 500 (the depth
is bounded before parsing: oms_site/json_input.py)."""

from __future__ import annotations

import pytest

from oms_site.json_input import MAX_JSON_DEPTH
from tests.api.helpers import assert_error, order_body

pytestmark = pytest.mark.django_db

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("path", ["/orders", "/orders/batch", "/gtt", "/schedules", "/accounts"])
def test_a_body_nested_100000_deep_is_a_validation_error(alice, path):
    # when a client posts 100,000 nested arrays
    response = alice.client.post(
        alice.url(path), DEEP, content_type="application/json", HTTP_IDEMPOTENCY_KEY="deep-1"
    )
    # then it is refused in the error shape
    body = assert_error(response, 400, "validation_error")
    assert "nested deeper" in body["error"]["message"]


def test_nesting_just_over_the_limit_is_refused_and_brackets_in_strings_are_text(
    alice, alice_account, acme
):
    # given an order whose tag is full of brackets (text, not nesting)
    order = order_body(alice_account, tag="[" * 50 + "{" * 50)
    # when it is posted, and a body one level deeper than the limit is posted
    placed = alice.post("/orders", order)
    too_deep = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    refused = alice.client.post(alice.url("/orders"), too_deep, content_type="application/json")
    # then the order is placed and the deep body refused
    assert placed.status_code == 201, placed.content
    assert_error(refused, 400, "validation_error")
