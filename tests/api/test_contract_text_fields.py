"""A text field takes text: a JSON number where a name belongs is a 400, not "5". OPTIONS is
not an operation of the API."""

from __future__ import annotations

import pytest

from tests.api.helpers import assert_error, open_account


@pytest.mark.parametrize(
    "path,body,field",
    [
        ("/api-keys", {"name": 5}, "name"),
        ("/accounts", {"name": 5, "broker": "paper", "starting_cash": "1"}, "name"),
    ],
)
def test_a_number_where_text_belongs_is_refused(alice, path, body, field):
    # given a trader
    # when a name is sent as a JSON number
    response = alice.post(path, body)
    # then it is a 400 naming the field (DRF alone would have stored "5")
    assert_error(response, 400, "validation_error", field=field)


def test_an_order_tag_must_be_text(alice, acme):
    # given a trader's account
    account = open_account(alice)
    # when an order's tag is a number
    body = {"account": account["id"], "symbol": "ACME", "side": "buy", "type": "market"}
    response = alice.post("/orders", {**body, "qty": "1", "tag": 42})
    # then it is refused, naming the tag
    assert_error(response, 400, "validation_error", field="tag")


@pytest.mark.parametrize("path", ["/notification-preferences", "/orders", "/accounts"])
def test_options_is_not_an_operation(alice, path):
    # given a trader
    # when OPTIONS is sent (no operation of the API)
    response = alice.client.options(f"/api/v1{path}")
    # then it is a 405 in the error shape (it was DRF's metadata, and a 500 on preferences)
    assert_error(response, 405, "method_not_allowed")
