"""GET|PUT /api/v1/notification-preferences, /api/v1/webhooks (create with a secret shown
once, list, delete, test, deliveries, rotate-secret) and the delivery log."""

from __future__ import annotations

import pytest

from notifications.models import Delivery, WebhookEndpoint
from notifications.preferences import EVENTS
from tests.factories import UserFactory
from tests.notifications import delivery_servers

pytestmark = pytest.mark.django_db

webhook_receiver = delivery_servers.webhook_receiver  # a real local HTTP receiver


@pytest.fixture
def me():
    return UserFactory(username="me")


@pytest.fixture
def api(make_key_client, me):
    return make_key_client(me)


def test_preferences_default_to_in_app_everywhere_and_email_for_what_needs_a_human(api):
    body = api.get("/api/v1/notification-preferences").json()
    assert set(body) == {"channels", "quiet_hours", "email", "chat_urls"}
    assert set(body["channels"]) == set(EVENTS)
    assert body["channels"]["order.filled"] == ["in_app"]
    for event in (
        "order.rejected",
        "risk.limit_hit",
        "kill_switch.changed",
        "broker.status_changed",
    ):
        assert body["channels"][event] == ["in_app", "email"]
    assert (body["quiet_hours"], body["email"], body["chat_urls"]) == (None, "", [])


def test_put_changes_what_it_names_and_keeps_the_rest(api):
    resp = api.put(
        "/api/v1/notification-preferences",
        {
            "channels": {"order.filled": ["email", "in_app", "email"]},
            "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Europe/Berlin"},
            "chat_urls": ["json://127.0.0.1:9/hook"],
        },
        format="json",
    )
    assert resp.status_code == 200, resp.json()
    body = resp.json()
    assert body["channels"]["order.filled"] == ["in_app", "email"]
    assert body["channels"]["order.rejected"] == ["in_app", "email"]  # untouched default
    assert body["quiet_hours"] == {"start": "22:00", "end": "07:00", "timezone": "Europe/Berlin"}
    assert body["chat_urls"] == ["json://127.0.0.1:9/hook"]
    # a second PUT without quiet_hours keeps them
    again = api.put("/api/v1/notification-preferences", {"email": "me@work.example"}, format="json")
    assert again.json()["quiet_hours"]["timezone"] == "Europe/Berlin"
    assert again.json()["email"] == "me@work.example"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channels": {"order.exploded": ["in_app"]}}, "channels.order.exploded"),
        ({"channels": {"order.filled": ["pigeon"]}}, "channels.order.filled"),
        ({"channels": {"order.filled": "email"}}, "channels.order.filled"),
        ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, "quiet_hours.start"),
        (
            {"quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Mars/Olympus"}},
            "quiet_hours.timezone",
        ),
        ({"email": "not-an-address"}, "email"),
        ({"chat_urls": ["nonsense"]}, "chat_urls.0"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_preferences_are_a_400_naming_the_field_and_change_nothing(api, body, field):
    resp = api.put("/api/v1/notification-preferences", body, format="json")
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]
    assert api.get("/api/v1/notification-preferences").json()["channels"]["order.filled"] == [
        "in_app"
    ]


def test_webhook_secret_is_shown_once_and_a_replay_omits_it(api, webhook_receiver):
    headers = {"HTTP_IDEMPOTENCY_KEY": "hook-1"}
    body = {"url": webhook_receiver.url, "events": ["order.filled", "gtt.triggered"]}
    created = api.post("/api/v1/webhooks", body, format="json", **headers)
    assert created.status_code == 201
    hook = created.json()
    assert hook["secret"].startswith("whsec_")
    assert hook["events"] == ["order.filled", "gtt.triggered"]
    replay = api.post("/api/v1/webhooks", body, format="json", **headers)
    assert replay.status_code == 200
    assert not replay.json().get("secret")
    assert WebhookEndpoint.objects.count() == 1
    listed = api.get("/api/v1/webhooks").json()
    assert listed["count"] == 1 and "secret" not in listed["results"][0]


def test_test_ping_is_signed_with_the_current_secret_and_logged(
    api, webhook_receiver, django_capture_on_commit_callbacks
):
    hook = api.post("/api/v1/webhooks", {"url": webhook_receiver.url}, format="json").json()
    rotated = api.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret").json()
    assert rotated["secret"] != hook["secret"]
    webhook_receiver.secret = rotated["secret"]

    with django_capture_on_commit_callbacks(execute=True):
        resp = api.post(f"/api/v1/webhooks/{hook['id']}/test")

    assert resp.status_code == 202
    (got,) = webhook_receiver.accepted()  # verified with the new secret
    assert got.json["event"] == "webhook.test"
    log = api.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()
    assert log["count"] == 1
    entry = log["results"][0]
    assert (entry["channel"], entry["status"], entry["attempts"]) == ("webhook", "sent", 1)
    assert entry["key"] == got.json["id"]
    mine = api.get("/api/v1/notification-deliveries?channel=webhook").json()
    assert mine["count"] == 1
    assert api.get("/api/v1/notification-deliveries?status=bogus").status_code == 400


def test_private_addresses_are_refused_unless_allowed(api, settings):
    settings.OMS_WEBHOOK_ALLOW_PRIVATE = False
    for url in ("http://127.0.0.1:8080/x", "http://10.1.2.3/x", "http://[::1]/x", "ftp://a.b/x"):
        resp = api.post("/api/v1/webhooks", {"url": url}, format="json")
        assert resp.status_code == 400, url
        assert "url" in resp.json()["error"]["fields"]
    assert not WebhookEndpoint.objects.exists()


def test_someone_elses_webhook_is_not_found(api, make_key_client, webhook_receiver):
    other = make_key_client(UserFactory(username="other"))
    hook = other.post("/api/v1/webhooks", {"url": webhook_receiver.url}, format="json").json()
    for method, path in (
        ("get", f"/api/v1/webhooks/{hook['id']}"),
        ("delete", f"/api/v1/webhooks/{hook['id']}"),
        ("post", f"/api/v1/webhooks/{hook['id']}/test"),
        ("post", f"/api/v1/webhooks/{hook['id']}/rotate-secret"),
        ("get", f"/api/v1/webhooks/{hook['id']}/deliveries"),
        ("get", "/api/v1/webhooks/not-a-uuid"),
    ):
        assert getattr(api, method)(path).status_code == 404, path
    assert api.get("/api/v1/webhooks").json()["count"] == 0
    assert not Delivery.objects.exists()
    assert api.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 404
    assert other.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_unknown_events_and_fields_are_refused(api, webhook_receiver):
    resp = api.post(
        "/api/v1/webhooks", {"url": webhook_receiver.url, "events": ["order.boom"]}, format="json"
    )
    assert resp.status_code == 400 and "events" in str(resp.json()["error"]["fields"])
    resp = api.post("/api/v1/webhooks", {"url": webhook_receiver.url, "x": 1}, format="json")
    assert resp.status_code == 400


def test_anonymous_gets_401(api_client):
    assert api_client.get("/api/v1/notification-preferences").status_code == 401
    assert api_client.get("/api/v1/webhooks").status_code == 401
