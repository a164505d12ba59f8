"""API keys: shown once, stored hashed, found by prefix, revocable, expiring, private."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import ApiKey, AuditLogEntry, User
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db

KEY_KEYS = {
    "id",
    "name",
    "prefix",
    "created_at",
    "last_used_at",
    "expires_at",
    "revoked_at",
    "scopes",
}


def _token_client(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw_key}")
    return client


def test_new_key_is_shown_once_and_works(make_key_client, trader):
    # When a trader creates a key
    response = make_key_client(trader).post("/api/v1/api-keys", {"name": "algo box"}, format="json")
    # Then the raw key is in this response only
    assert response.status_code == 201
    body = response.json()
    assert set(body) == KEY_KEYS | {"key"}
    raw = body["key"]
    assert raw.startswith(f"oms_{body['prefix']}_")
    # And the key authenticates as the trader
    me = _token_client(raw).get("/api/v1/me")
    assert me.status_code == 200 and me.json()["username"] == trader.username
    # And the list never shows the secret or its hash
    listing = make_key_client(trader).get("/api/v1/api-keys/")
    rows = listing.json()["results"]
    assert all(set(row) == KEY_KEYS for row in rows)
    assert raw not in listing.content.decode()
    stored = ApiKey.objects.get(pk=body["id"])
    assert stored.key_hash not in listing.content.decode()


def test_raw_key_is_not_stored(trader):
    # Given an issued key
    issued = ApiKeyFactory.issue(user=trader, name="x")
    # When the table is read raw
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apikey")
        dump = repr(cursor.fetchall())
    # Then neither the key nor its secret part is there; the prefix is (for lookup)
    secret_part = issued.raw_key.split("_", 2)[2]
    assert issued.raw_key not in dump
    assert secret_part not in dump
    assert issued.api_key.prefix in dump


def test_lookup_is_by_prefix_and_needs_the_whole_key(trader):
    issued = ApiKeyFactory.issue(user=trader)
    assert services.api_key_authenticate(raw_key=issued.raw_key).pk == issued.api_key.pk
    # Same prefix, wrong secret
    forged = issued.raw_key[:-3] + ("aaa" if not issued.raw_key.endswith("aaa") else "bbb")
    assert services.api_key_authenticate(raw_key=forged) is None
    assert services.api_key_authenticate(raw_key="garbage") is None


def test_revoked_key_is_401(make_key_client, trader):
    # Given a key in use
    issued = ApiKeyFactory.issue(user=trader, name="old")
    client = _token_client(issued.raw_key)
    assert client.get("/api/v1/accounts").status_code == 200
    # When its owner revokes it
    response = make_key_client(trader).delete(f"/api/v1/api-keys/{issued.api_key.pk}")
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    # Then it no longer authenticates, in the error shape
    refused = client.get("/api/v1/accounts")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "not_authenticated"
    assert AuditLogEntry.objects.filter(action="api_key.revoke").count() == 1


def test_expired_key_is_401(trader):
    issued = ApiKeyFactory.issue(user=trader, expires_at=timezone.now() + timedelta(days=1))
    ApiKey.objects.filter(pk=issued.api_key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert _token_client(issued.raw_key).get("/api/v1/me").status_code == 401


def test_key_of_inactive_user_is_401(trader):
    issued = ApiKeyFactory.issue(user=trader)
    trader.is_active = False
    trader.save()
    assert _token_client(issued.raw_key).get("/api/v1/me").status_code == 401


def test_someone_elses_key_cannot_be_revoked_or_seen(make_key_client, trader, other_trader):
    # Given another user's key
    theirs = ApiKeyFactory.issue(user=other_trader, name="theirs")
    client = make_key_client(trader)
    # When the trader tries to revoke it, or lists keys
    response = client.delete(f"/api/v1/api-keys/{theirs.api_key.pk}/")
    listing = client.get("/api/v1/api-keys").json()
    # Then it is 404, it stays usable, and it is not listed
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert services.api_key_authenticate(raw_key=theirs.raw_key) is not None
    assert str(theirs.api_key.pk) not in [row["id"] for row in listing["results"]]
    assert client.delete("/api/v1/api-keys/not-a-uuid").status_code == 404


# --- a process reuses a key it read (accounts/services.py API_KEY_CACHE_SECONDS) ------------


def test_a_key_used_again_soon_is_not_read_again(trader, django_assert_num_queries):
    issued = ApiKeyFactory.issue(user=trader)
    first = services.api_key_authenticate(raw_key=issued.raw_key)
    # When the key is used again at once
    with django_assert_num_queries(0):
        again = services.api_key_authenticate(raw_key=issued.raw_key)
    # Then it is the same key and user, as copies of the caller's own
    assert again.pk == first.pk and again.user.pk == trader.pk
    assert again is not first and again.user is not first.user


def test_what_one_request_changes_on_its_key_does_not_reach_the_next(trader):
    issued = ApiKeyFactory.issue(user=trader)
    first = services.api_key_authenticate(raw_key=issued.raw_key)
    # when a request changes its key's scopes and user in place
    first.scopes.append("admin")
    first.user.username = "someone-else"
    # then the next request of the same key sees them as stored
    again = services.api_key_authenticate(raw_key=issued.raw_key)
    assert "admin" not in again.scopes
    assert again.user.username == trader.username


def test_a_key_read_recently_still_needs_the_whole_key(trader):
    issued = ApiKeyFactory.issue(user=trader)
    assert services.api_key_authenticate(raw_key=issued.raw_key) is not None
    forged = issued.raw_key[:-3] + ("aaa" if not issued.raw_key.endswith("aaa") else "bbb")
    assert services.api_key_authenticate(raw_key=forged) is None


def test_revoking_refuses_the_key_at_once(trader):
    # Given a key in use
    issued = ApiKeyFactory.issue(user=trader)
    client = _token_client(issued.raw_key)
    assert client.get("/api/v1/me").status_code == 200
    # When it is revoked
    services.api_key_revoke(api_key=ApiKey.objects.get(pk=issued.api_key.pk), actor=trader)
    # Then the very next request is refused
    assert client.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize("change", ["revoked", "expired", "user_deactivated"])
def test_a_change_in_the_database_is_seen_once_the_reuse_window_passed(monkeypatch, trader, change):
    # Given a key in use (and a short reuse window)
    monkeypatch.setattr(services, "API_KEY_CACHE_SECONDS", 0.05)
    issued = ApiKeyFactory.issue(user=trader)
    client = _token_client(issued.raw_key)
    assert client.get("/api/v1/me").status_code == 200
    # When another process revokes or expires it, or deactivates its user
    keys = ApiKey.objects.filter(pk=issued.api_key.pk)
    if change == "revoked":
        keys.update(revoked_at=timezone.now())
    elif change == "expired":
        keys.update(expires_at=timezone.now())
    else:
        User.objects.filter(pk=trader.pk).update(is_active=False)
    # Then once the window has passed, it is refused
    time.sleep(0.06)
    refused = client.get("/api/v1/me")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "not_authenticated"


def test_a_key_reused_past_its_expiry_is_refused(monkeypatch, trader):
    # Given a key expiring in a minute, in use
    issued = ApiKeyFactory.issue(user=trader, expires_at=timezone.now() + timedelta(minutes=1))
    assert services.api_key_authenticate(raw_key=issued.raw_key) is not None
    # When it is used again after that minute
    later = timezone.now() + timedelta(minutes=2)
    monkeypatch.setattr(services.timezone, "now", lambda: later)
    # Then it is refused
    assert services.api_key_authenticate(raw_key=issued.raw_key) is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "k", "expires_at": "yesterday"}, "expires_at"),
        ({"name": "k", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "k", "scopes": ["admin"]}, "scopes"),
    ],
)
def test_bad_key_requests_are_400(make_key_client, trader, payload, field):
    client = make_key_client(trader)
    before = ApiKey.objects.count()
    response = client.post("/api/v1/api-keys", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert ApiKey.objects.count() == before


def test_key_with_future_expiry(make_key_client, trader):
    expires = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    body = (
        make_key_client(trader)
        .post(
            "/api/v1/api-keys", {"name": "month", "expires_at": expires.isoformat()}, format="json"
        )
        .json()
    )
    assert body["expires_at"].startswith(expires.strftime("%Y-%m-%dT%H:%M:%S"))
