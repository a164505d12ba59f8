"""Fixtures of the accounts tests: one user per role and logged-in page clients."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import UserFactory


@pytest.fixture
def dealer():
    return UserFactory(role="dealer", username="dealer1")


@pytest.fixture
def viewer():
    return UserFactory(role="viewer", username="viewer1")


@pytest.fixture
def other_trader():
    return UserFactory(role="trader", username="trader2")


@pytest.fixture
def login_client():
    """A factory: a Django test client with `user` logged in (session auth, like a browser)."""

    def _make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return _make


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness costs seconds per test user; MD5 is fine inside tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
