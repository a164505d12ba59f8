"""accounts.idempotency: claiming keys, in-flight and 5xx answers, purge and its TTL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.idempotency import idempotency_claim, idempotency_finish, idempotency_purge
from accounts.models import IdempotencyKey
from oms_site.errors import Conflict, ValidationFailed
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _claim(user, key="k", path="/api/v1/accounts", request_hash="h"):
    return idempotency_claim(user=user, key=key, path=path, request_hash=request_hash)


def test_a_second_request_while_the_first_runs_is_409():
    # given a claimed key whose request has not finished
    user = UserFactory()
    _claim(user)
    # when the same request comes again
    # then 409 conflict (it must not run twice)
    with pytest.raises(Conflict):
        _claim(user)


def test_a_finished_201_replays_as_200_and_redacts_secrets():
    # given a finished 201 whose body held a secret
    user = UserFactory()
    record = _claim(user)
    idempotency_finish(record=record, status_code=201, body={"id": "1", "key": "s"}, redact=["key"])
    # when the same request comes again
    # then the stored body replays with 200, without the secret
    assert _claim(user) == (200, {"id": "1"})


def test_the_same_key_on_another_path_is_409():
    # given a finished request
    user = UserFactory()
    idempotency_finish(record=_claim(user), status_code=201, body={})
    # when the key is reused elsewhere
    # then 409
    with pytest.raises(Conflict):
        _claim(user, path="/api/v1/instruments")


def test_a_5xx_answer_is_not_kept_so_a_retry_runs():
    # given a request that failed with 503
    user = UserFactory()
    idempotency_finish(record=_claim(user), status_code=503, body={})
    # when it is retried
    # then it may run again (a new claim)
    assert isinstance(_claim(user), IdempotencyKey)


def test_an_empty_or_huge_key_is_400():
    user = UserFactory()
    for key in ("", "x" * 201):
        with pytest.raises(ValidationFailed):
            _claim(user, key=key)


def test_purge_removes_keys_older_than_a_day():
    # given an old and a fresh key
    user = UserFactory()
    old = _claim(user, key="old")
    _claim(user, key="fresh")
    IdempotencyKey.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    # when purged
    deleted = idempotency_purge()
    # then only the old one is gone
    assert deleted == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


def test_purge_keeps_keys_for_the_configured_ttl(settings):
    # given keys two and four days old, and a TTL of three days
    settings.OMS_IDEMPOTENCY_TTL_HOURS = 72
    user = UserFactory()
    for key, days in (("two-days", 2), ("four-days", 4)):
        record = _claim(user, key=key)
        IdempotencyKey.objects.filter(pk=record.pk).update(
            created_at=timezone.now() - timedelta(days=days)
        )
    # when purged
    deleted = idempotency_purge()
    # then only the key older than the TTL is gone
    assert deleted == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["two-days"]
