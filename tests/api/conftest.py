"""Fixtures of the API contract suite (API.md, read as an outsider).

Everything goes through HTTP (DRF's APIClient with `Authorization: Token <key>`) and the fixed
management commands. The only back-office step done directly is granting a membership on
someone else's account: the contract has no endpoint for it (admins do it in the back office).

Writes run inside `django_capture_on_commit_callbacks(execute=True)`, so what the server defers
to commit (submission to the broker, live pushes) happens as it would after a real commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.api.helpers import SIM_INSTRUMENT, Api, issue_key, open_account


@pytest.fixture
def api_as(db, django_capture_on_commit_callbacks) -> Callable[..., Api]:
    """username, role → an Api authenticated with a key from `issue_api_key --create`."""
    made: dict[str, Api] = {}

    def _make(username: str, role: str = "trader") -> Api:
        if username not in made:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {issue_key(username, role=role)}")
            made[username] = Api(client, django_capture_on_commit_callbacks, username)
        return made[username]

    return _make


@pytest.fixture
def anon(db, django_capture_on_commit_callbacks) -> Api:
    return Api(APIClient(), django_capture_on_commit_callbacks)


@pytest.fixture
def admin(api_as) -> Api:
    return api_as("ops_admin", "admin")


@pytest.fixture
def alice(api_as) -> Api:
    return api_as("alice", "trader")


@pytest.fixture
def bob(api_as) -> Api:
    return api_as("bob", "trader")


@pytest.fixture
def acme(admin) -> dict[str, Any]:
    """ACME on the always-open SIM exchange, created through the API, quoted 100 / 99.95-100.05."""
    response = admin.post("/instruments", SIM_INSTRUMENT)
    assert response.status_code == 201, response.content
    tick = {"symbol": "ACME", "last": "100", "bid": "99.95", "ask": "100.05", "volume": 10}
    pushed = admin.post("/market-data/ticks", tick)
    assert pushed.status_code == 202, pushed.content
    return response.json()


@pytest.fixture
def alice_account(alice) -> dict[str, Any]:
    return open_account(alice, name="Alice paper")


@pytest.fixture
def bob_account(bob) -> dict[str, Any]:
    return open_account(bob, name="Bob paper")
