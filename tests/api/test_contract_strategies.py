"""API.md § Strategies and signals. Not scheduled yet (strategies/api_urls.py is empty), so the
module is skipped on purpose — not xfailed: nobody is building it. The tests are real: remove
the skip when the strategies issue starts."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from tests.api.helpers import open_account, paginated

pytestmark = pytest.mark.skip(reason="strategies/signals are not scheduled yet (no owner)")


@pytest.fixture
def strategy(alice, acme):
    accounts = [open_account(alice, name="S1"), open_account(alice, name="S2")]
    response = alice.post(
        "/strategies",
        {
            "name": "Breakout",
            "accounts": [a["id"] for a in accounts],
            "sizing": {"qty": "2"},
            "defaults": {"type": "market"},
        },
    )
    assert response.status_code == 201, response.content
    return response.json(), accounts


def test_strategy_create_shows_the_webhook_secret_once(alice, strategy):
    # given a new strategy
    created, _ = strategy
    # then the create answer has a webhook url and secret
    assert created["webhook_url"] and created["webhook_secret"]
    # and the secret never comes back afterwards
    assert (
        created["webhook_secret"] not in alice.get(f"/strategies/{created['id']}").content.decode()
    )


def test_a_signed_signal_places_an_order_on_each_account(anon, alice, strategy):
    # given a strategy on two accounts
    created, accounts = strategy
    raw = json.dumps({"symbol": "ACME", "action": "buy"}).encode()
    signature = hmac.new(created["webhook_secret"].encode(), raw, hashlib.sha256).hexdigest()
    # when a signal signed with the secret arrives without a session
    response = anon.client.post(
        f"/api/v1/signals/{created['id']}",
        data=raw,
        content_type="application/json",
        HTTP_X_SIGNATURE=signature,
    )
    # then 202 with the orders placed: one per account
    assert response.status_code == 202, response.content
    assert paginated(alice.get("/orders?status=all"))["count"] == len(accounts)


def test_a_badly_signed_signal_is_refused(anon, alice, strategy):
    # given a strategy
    created, _ = strategy
    # when a signal arrives with a wrong signature
    response = anon.client.post(
        f"/api/v1/signals/{created['id']}",
        data=b'{"symbol": "ACME", "action": "buy"}',
        content_type="application/json",
        HTTP_X_SIGNATURE="0" * 64,
    )
    # then it is refused and nothing is placed
    assert response.status_code in (401, 403)
    assert paginated(alice.get("/orders?status=all"))["count"] == 0
