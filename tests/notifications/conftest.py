"""Fixtures for the notifications and live stream tests."""

from __future__ import annotations

import pytest
from django.test import Client

from notifications.services import channel_layer_flush, stream_audience
from tests.factories import ApiKeyFactory


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Each test starts with an empty channel layer (Redis db or in-memory) and forgets
    who saw which account (the push numbering's cache)."""
    channel_layer_flush()
    stream_audience.clear()
    yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Factories hash a password per user; the default hasher costs ~0.3 s each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api_key_for():
    """user → a fresh raw API key."""

    def _issue(user) -> str:
        return ApiKeyFactory.issue(user=user).raw_key

    return _issue


@pytest.fixture
def session_key_for():
    """user → the id of a freshly logged-in browser session."""

    def _login(user) -> str:
        client = Client()
        client.force_login(user)
        return client.cookies["sessionid"].value

    return _login
