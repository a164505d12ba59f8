"""Fixtures shared by every test package."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from oms_site.celery import app as celery_app
from tests.factories import ApiKeyFactory, UserFactory


@pytest.fixture(autouse=True, scope="session")
def _celery_eager():
    # Unit and API tests run tasks inline; tests under tests/integration start real workers.
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 costs ~1 s per user on this machine; tests don't need its strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_key_client():
    """A factory: an APIClient authenticated with a fresh API key of `user`."""

    def _make(user) -> APIClient:
        issued = ApiKeyFactory.issue(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {issued.raw_key}")
        return client

    return _make


@pytest.fixture
def admin_user():
    return UserFactory(role="admin", username="admin1")


@pytest.fixture
def trader():
    return UserFactory(role="trader", username="trader1")


@pytest.fixture
def no_real_brokers():
    """Only the internal venues (paper, exchange) installed for one test."""
    from execution import registry

    saved = registry.ADAPTER_FACTORIES.snapshot()
    for kind in ("alpaca", "kite"):
        registry.unregister_adapter(kind)
    yield
    registry.ADAPTER_FACTORIES.restore(saved)
    registry.adapter_instances_clear()


@pytest.fixture
def connected_broker():
    """An in-test real broker (tests/execution/connected_fake.py) registered as "alpaca" for
    one test; the adapter registry and the breaker state are restored afterwards."""
    from execution import registry
    from execution.services import broker_callers_reset
    from tests.execution.connected_fake import FakeConnectedBroker

    fake = FakeConnectedBroker()
    saved_factories = registry.ADAPTER_FACTORIES.snapshot()
    registry.register_adapter("alpaca", lambda: fake)
    broker_callers_reset()
    yield fake
    registry.ADAPTER_FACTORIES.restore(saved_factories)
    registry.adapter_instances_clear()
    broker_callers_reset()
