"""The settings page: channels per event, quiet hours, chat URLs; webhooks with the secret
shown once; the delivery log. Plain forms, each user sees only their own."""

from __future__ import annotations

import pytest
from django.test import Client

from notifications.models import WebhookEndpoint
from notifications.selectors_delivery import preferences_get
from notifications.services_delivery import webhook_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def me():
    return UserFactory(username="me")


@pytest.fixture
def browser(me) -> Client:
    client = Client()
    client.force_login(me)
    return client


def test_the_page_shows_the_defaults_as_ticked_boxes(browser):
    html = browser.get("/notifications/settings").content.decode()
    assert (
        'name="ch:order.filled:in_app" value="1" aria-label="order.filled by in_app" checked'
        in html
    )
    assert 'name="ch:order.filled:email" value="1" aria-label="order.filled by email">' in html
    assert (
        'name="ch:order.rejected:email" value="1" aria-label="order.rejected by email" checked'
        in html
    )
    assert "<script>" not in html  # strict CSP: no inline script


def test_saving_the_form_stores_channels_quiet_hours_and_chat(browser, me):
    resp = browser.post(
        "/notifications/settings/preferences",
        {
            "ch:order.filled:in_app": "1",
            "ch:order.filled:email": "1",
            "qh_start": "22:00",
            "qh_end": "07:00",
            "qh_tz": "Asia/Kolkata",
            "email": "",
            "chat_urls": "json://127.0.0.1:9/x\n",
        },
    )
    assert resp.status_code == 302
    prefs = preferences_get(user=me)
    assert prefs.channels_for("order.filled") == ["in_app", "email"]
    assert prefs.channels_for("order.rejected") == []  # every box left empty is off
    assert prefs.quiet_hours == {"start": "22:00", "end": "07:00", "timezone": "Asia/Kolkata"}
    assert prefs.chat_urls == ["json://127.0.0.1:9/x"]


def test_a_bad_form_says_what_is_wrong_and_stores_nothing(browser, me):
    resp = browser.post(
        "/notifications/settings/preferences",
        {"qh_start": "22:00", "qh_end": "07:00", "qh_tz": "Nowhere/Land", "chat_urls": "zzz"},
    )
    assert resp.status_code == 400
    html = resp.content.decode()
    assert "An IANA time zone name" in html and "Not a URL apprise understands." in html
    assert preferences_get(user=me).quiet_hours is None


def test_a_new_webhook_shows_its_secret_once(browser, me):
    resp = browser.post(
        "/notifications/webhooks",
        {"url": "http://127.0.0.1:9/hook", "events": ["order.filled"]},
    )
    html = resp.content.decode()
    endpoint = WebhookEndpoint.objects.get(user=me)
    assert 'id="new-secret-value">whsec_' in html
    assert endpoint.events == ["order.filled"]
    assert "whsec_" not in browser.get("/notifications/settings").content.decode()


def test_someone_elses_webhook_cannot_be_touched(browser):
    other = UserFactory(username="other")
    endpoint = webhook_create(user=other, url="http://127.0.0.1:9/x").endpoint
    for action in ("delete", "test", "rotate-secret"):
        assert browser.post(f"/notifications/webhooks/{endpoint.pk}/{action}").status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert "127.0.0.1:9/x" not in browser.get("/notifications/settings").content.decode()


def test_the_delivery_log_page_lists_mine(browser, me, django_capture_on_commit_callbacks):
    endpoint = webhook_create(user=me, url="http://127.0.0.1:9/nobody-listens").endpoint
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(f"/notifications/webhooks/{endpoint.pk}/test")
    html = browser.get("/notifications/deliveries").content.decode()
    assert "webhook.test" in html and "ConnectionError" in html


def test_anonymous_is_sent_to_log_in():
    resp = Client().get("/notifications/settings")
    assert resp.status_code == 302 and "login" in resp["Location"]
