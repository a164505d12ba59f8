"""The /notifications/ page: own notifications, unread filter, mark read (no JavaScript)."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from tests.factories import UserFactory
from tests.notifications.factories import NotificationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client, trader):
    client.force_login(trader)
    return client


def test_page_needs_login(client):
    resp = client.get(reverse("notification-list"))
    assert resp.status_code == 302
    assert "/accounts/login/" in resp["Location"]


def test_page_lists_own_notifications_only(browser, trader):
    NotificationFactory(user=trader, title="Your order filled", body="100 ACME @ 10.5")
    NotificationFactory(user=UserFactory(username="stranger"), title="Stranger's secret")

    resp = browser.get(reverse("notification-list"))

    html = resp.content.decode()
    assert resp.status_code == 200
    assert "Your order filled" in html
    assert "100 ACME @ 10.5" in html
    assert "Stranger&#x27;s secret" not in html and "Stranger's secret" not in html
    assert "1 unread" in html
    # the bell in the top bar links here
    assert 'id="notif-bell"' in html


def test_unread_filter_hides_read_ones(browser, trader):
    NotificationFactory(user=trader, title="Still new")
    NotificationFactory(user=trader, title="Seen already", read_at=timezone.now())

    html = browser.get(reverse("notification-list") + "?unread=1").content.decode()

    assert "Still new" in html
    assert "Seen already" not in html


def test_empty_state(browser):
    html = browser.get(reverse("notification-list")).content.decode()
    assert "No notifications yet." in html


def test_mark_read_form_marks_and_returns_to_the_list(browser, trader):
    mine = NotificationFactory(user=trader)
    resp = browser.post(
        reverse("notification-read", args=[mine.pk]), {"next": "/notifications/?unread=1"}
    )
    assert resp.status_code == 302
    assert resp["Location"] == "/notifications/?unread=1"
    mine.refresh_from_db()
    assert mine.read_at is not None


def test_mark_read_refuses_offsite_redirects(browser, trader):
    mine = NotificationFactory(user=trader)
    resp = browser.post(
        reverse("notification-read", args=[mine.pk]), {"next": "https://evil.example/"}
    )
    assert resp["Location"] == reverse("notification-list")


def test_mark_read_of_someone_elses_is_404(browser):
    theirs = NotificationFactory(user=UserFactory(username="stranger"))
    assert browser.post(reverse("notification-read", args=[theirs.pk])).status_code == 404
    assert browser.post(reverse("notification-read", args=[uuid.uuid4()])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_read(browser, trader):
    NotificationFactory.create_batch(2, user=trader)
    theirs = NotificationFactory(user=UserFactory(username="stranger"))
    resp = browser.post(reverse("notification-read-all"))
    assert resp.status_code == 302
    assert not Notification.objects.filter(user=trader, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_get_on_a_write_url_is_refused(browser, trader):
    mine = NotificationFactory(user=trader)
    assert browser.get(reverse("notification-read", args=[mine.pk])).status_code == 405
    mine.refresh_from_db()
    assert mine.read_at is None


def test_back_office_lists_notifications_read_only(client, trader):
    # given an OMS admin with staff access, and a notification
    boss = UserFactory(username="boss", role="admin", is_staff=True)
    notification = NotificationFactory(user=trader, title="Visible in back office")
    client.force_login(boss)

    # then the admin list shows it, and there is no add page
    resp = client.get("/admin/notifications/notification/")
    assert resp.status_code == 200
    assert "Visible in back office" in resp.content.decode()
    assert client.get("/admin/notifications/notification/add/").status_code == 403
    change = client.post(
        f"/admin/notifications/notification/{notification.pk}/change/", {"title": "edited"}
    )
    assert change.status_code == 403
    notification.refresh_from_db()
    assert notification.title == "Visible in back office"


def test_back_office_is_closed_to_traders(browser):
    resp = browser.get("/admin/notifications/notification/")
    assert resp.status_code == 302  # to the admin login
