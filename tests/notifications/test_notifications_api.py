"""GET /api/v1/notifications, POST …/{id}/read, POST …/read-all, GET …/unread-count."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from notifications import services
from notifications.models import Notification
from tests.factories import UserFactory, account_with_member
from tests.notifications.factories import NotificationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_of_trader(trader, make_key_client):
    return make_key_client(trader)


def test_list_is_own_only_newest_first_and_paginated(trader, client_of_trader):
    # given two of mine (one read) and one of someone else's
    account = account_with_member(user=trader)
    services.notify(account=account, kind="order.filled", title="first")
    services.notify(user=trader, kind="risk.kill_switch", title="second", level="warning")
    Notification.objects.filter(title="first").update(read_at=timezone.now())
    NotificationFactory(title="someone else's")

    # when I list them
    resp = client_of_trader.get("/api/v1/notifications")

    # then only mine, newest first, in the paginated shape
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 2
    assert [n["title"] for n in body["results"]] == ["second", "first"]
    second, first = body["results"]
    assert set(second) == {
        "id",
        "event",
        "account",
        "account_name",
        "kind",
        "level",
        "title",
        "body",
        "data",
        "read",
        "created_at",
        "read_at",
    }
    assert (second["account"], second["level"], second["read"]) == (None, "warning", False)
    assert (first["account"], first["account_name"]) == (str(account.pk), account.name)
    assert first["read"] is True
    assert first["read_at"].endswith(("Z", "+00:00"))


def test_unread_filter_and_limit(trader, client_of_trader):
    NotificationFactory.create_batch(3, user=trader)
    NotificationFactory(user=trader, read_at=timezone.now())

    unread = client_of_trader.get("/api/v1/notifications/?unread=1").json()
    assert unread["count"] == 3
    assert all(n["read"] is False for n in unread["results"])

    page = client_of_trader.get("/api/v1/notifications?limit=2").json()
    assert page["count"] == 4
    assert len(page["results"]) == 2
    assert page["next"] is not None


def test_read_marks_my_notification(trader, client_of_trader):
    mine = NotificationFactory(user=trader)
    resp = client_of_trader.post(f"/api/v1/notifications/{mine.pk}/read")
    assert resp.status_code == 200
    assert resp.json()["id"] == str(mine.pk)
    assert resp.json()["read"] is True
    mine.refresh_from_db()
    assert mine.read_at is not None


@pytest.mark.parametrize("which", ["someone_elses", "missing", "malformed"])
def test_read_of_anything_not_mine_is_404(which, client_of_trader):
    if which == "someone_elses":
        target = NotificationFactory(user=UserFactory(username="stranger")).pk
    elif which == "missing":
        target = uuid.uuid4()
    else:
        target = "not-a-uuid"
    resp = client_of_trader.post(f"/api/v1/notifications/{target}/read/")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "not_found"
    assert not Notification.objects.filter(read_at__isnull=False).exists()


def test_get_one_of_mine_and_not_of_others(trader, client_of_trader):
    mine = NotificationFactory(user=trader)
    theirs = NotificationFactory()
    assert client_of_trader.get(f"/api/v1/notifications/{mine.pk}").json()["id"] == str(mine.pk)
    assert client_of_trader.get(f"/api/v1/notifications/{theirs.pk}").status_code == 404


def test_read_all_marks_only_mine(trader, client_of_trader):
    NotificationFactory.create_batch(2, user=trader)
    theirs = NotificationFactory()

    resp = client_of_trader.post("/api/v1/notifications/read-all")

    assert resp.status_code == 200
    assert resp.json() == {"updated": 2, "unread": 0}
    assert client_of_trader.get("/api/v1/notifications/unread-count").json() == {"unread": 0}
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_unread_count(trader, client_of_trader):
    NotificationFactory.create_batch(2, user=trader)
    NotificationFactory()
    assert client_of_trader.get("/api/v1/notifications/unread-count/").json() == {"unread": 2}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/notifications"),
        ("post", "/api/v1/notifications/read-all"),
        ("get", "/api/v1/notifications/unread-count"),
    ],
)
def test_anonymous_gets_401(method, path, api_client):
    resp = getattr(api_client, method)(path)
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "not_authenticated"


def test_session_client_needs_csrf_for_writes(trader):
    # given a logged-in browser without a CSRF token
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(trader)
    mine = NotificationFactory(user=trader)

    # then reading the list works, a write without CSRF is refused
    assert client.get("/api/v1/notifications").status_code == 200
    assert client.post(f"/api/v1/notifications/{mine.pk}/read").status_code == 403
    mine.refresh_from_db()
    assert mine.read_at is None
