"""Sign-in with allauth: username or email, no sign-up, rate limits, TOTP for admins."""

from __future__ import annotations

import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from tests.factories import DEFAULT_PASSWORD, ApiKeyFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def _login(client: Client, login: str, password: str = DEFAULT_PASSWORD):
    return client.post(LOGIN, {"login": login, "password": password})


def _current_totp(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def test_login_page_renders_in_the_oms_layout(client):
    response = client.get(LOGIN)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="auth-box card"' in html
    assert 'name="login"' in html and 'name="password"' in html
    assert "/static/css/app.css" in html
    assert "sign up" not in html.lower()


@pytest.mark.parametrize("login_with", ["username", "email"])
def test_login_with_username_or_email(client, trader, login_with):
    # When the trader signs in with their username or their email
    response = _login(client, getattr(trader, login_with))
    # Then they land on the dashboard, logged in
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200


def test_wrong_password_is_refused(client, trader):
    response = _login(client, "trader1", "nope")
    assert response.status_code == 200
    assert "not correct" in response.content.decode()
    assert client.get(reverse("dashboard")).status_code == 302


def test_pages_need_a_login(client):
    for name in ("dashboard", "account-list", "api-key-list", "account-create"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(LOGIN)


def test_signup_is_closed(client):
    # When someone opens the sign-up page or posts to it
    page = client.get("/accounts/signup/")
    client.post(
        "/accounts/signup/",
        {
            "username": "intruder",
            "email": "i@example.com",
            "password1": "Sup3r-long-pass!",
            "password2": "Sup3r-long-pass!",
        },
    )
    # Then the page says sign-up is closed and no user was created
    assert "Sign-up is closed" in page.content.decode()
    assert not User.objects.filter(username="intruder").exists()


def test_repeated_failures_are_rate_limited(client, trader):
    # Given five failed attempts for the same login
    for _ in range(5):
        assert _login(client, "trader1", "wrong-password").status_code == 200
    # When the right password comes next
    response = _login(client, "trader1")
    # Then it is still refused: too many failed attempts
    assert response.status_code in (200, 429)
    assert "Too many failed login attempts" in response.content.decode()
    assert client.get(reverse("dashboard")).status_code == 302


def test_admins_must_enrol_totp_when_required(settings, login_client):
    settings.OMS_REQUIRE_ADMIN_MFA = True
    admin = UserFactory(role="admin", is_staff=True)
    client = login_client(admin)
    # When an admin without TOTP opens a page (or the back office)
    for url in (reverse("dashboard"), reverse("account-list"), "/admin/"):
        response = client.get(url)
        # Then they are sent to enrol an authenticator
        assert response.status_code == 302, url
        assert response["Location"] == reverse("mfa_activate_totp")
    # But the API (token or session) and the 2FA pages themselves stay reachable
    assert client.get("/api/v1/me").status_code == 200
    assert client.get(reverse("mfa_index")).status_code == 200


def test_an_api_request_by_key_does_not_load_the_browser_session(settings, login_client):
    # Given TOTP required, and an admin's browser (session cookie) calling the API by key
    settings.OMS_REQUIRE_ADMIN_MFA = True
    admin = UserFactory(role="admin", is_staff=True)
    client = login_client(admin)
    key = ApiKeyFactory.issue(user=admin).raw_key
    # When it calls the API
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Token {key}")
    # Then it is answered without reading the session (the key says who it is)
    assert response.status_code == 200
    assert not [q for q in queries.captured_queries if "django_session" in q["sql"]]


def test_admin_mfa_is_not_required_when_switched_off(settings, login_client):
    settings.OMS_REQUIRE_ADMIN_MFA = False
    admin = UserFactory(role="admin")
    assert login_client(admin).get(reverse("dashboard")).status_code == 200


def test_non_admins_and_enrolled_admins_pass(settings, login_client, trader):
    settings.OMS_REQUIRE_ADMIN_MFA = True
    assert login_client(trader).get(reverse("dashboard")).status_code == 200
    admin = UserFactory(role="admin")
    TOTP.activate(admin, generate_totp_secret())
    assert login_client(admin).get(reverse("dashboard")).status_code == 200


def test_totp_activation_page_opens_after_sign_in(settings, client):
    # Given an admin just signed in with a password, TOTP required
    settings.OMS_REQUIRE_ADMIN_MFA = True
    UserFactory(role="admin", username="boss")
    response = _login(client, "boss")
    # When they follow where OMS sends them, confirming their password once more
    # (allauth asks before any change to a user's second factors)
    page = client.get(response["Location"], follow=True)
    assert page.redirect_chain[0][0] == reverse("mfa_activate_totp")
    assert page.redirect_chain[-1][0].startswith(reverse("account_reauthenticate"))
    page = client.post(page.redirect_chain[-1][0], {"password": DEFAULT_PASSWORD}, follow=True)
    # Then the authenticator activation page is shown with a QR code, in the OMS layout
    html = page.content.decode()
    assert page.status_code == 200
    assert "Activate Authenticator App" in html
    assert "data:image/svg+xml" in html
    assert "/static/css/app.css" in html


def test_sign_in_with_totp(client):
    # Given a user with an authenticator app
    user = UserFactory(username="safe")
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    assert Authenticator.objects.filter(user=user).exists()
    # When they sign in with their password
    response = _login(client, "safe")
    # Then a code is asked for before anything else
    assert response["Location"] == reverse("mfa_authenticate")
    assert client.get(reverse("dashboard")).status_code == 302
    # When they enter the current code, then they are in
    response = client.post(reverse("mfa_authenticate"), {"code": _current_totp(secret)})
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200


def test_security_page_is_available_to_every_user(login_client, viewer):
    response = login_client(viewer).get(reverse("mfa_index"))
    assert response.status_code == 200
    assert "Authenticator App" in response.content.decode()
