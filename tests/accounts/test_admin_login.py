"""The back office signs in through allauth only: its throttle, its second factor."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.test import Client
from django.urls import reverse

from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/"
LOGIN = "/accounts/login/"


@pytest.fixture
def staff_admin():
    return UserFactory(role="admin", username="boss", is_staff=True)


def _current_totp(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def _admin_form_post(client: Client, password: str = DEFAULT_PASSWORD):
    return client.post(
        f"{ADMIN_LOGIN}?next=/admin/",
        {"username": "boss", "password": password, "next": "/admin/"},
    )


def _opens_back_office(client: Client) -> bool:
    return client.get(reverse("admin:index")).status_code == 200


def test_admin_login_sends_to_the_sign_in_and_back(client, staff_admin):
    # When someone opens the back office without a session
    response = client.get("/admin/", follow=True)
    # Then they end on the OMS sign-in page, which returns to the back office
    assert response.redirect_chain[-1][0] == f"{LOGIN}?{urlencode({'next': '/admin/'})}"
    # And signing in there takes the admin back to the back office
    response = client.post(
        response.redirect_chain[-1][0], {"login": "boss", "password": DEFAULT_PASSWORD}
    )
    assert response["Location"] == "/admin/"
    assert _opens_back_office(client)


def test_admin_login_never_sends_elsewhere(client):
    response = client.get(f"{ADMIN_LOGIN}?next=https://evil.example.com/")
    assert response["Location"] == f"{LOGIN}?{urlencode({'next': '/admin/'})}"


def test_wrong_passwords_at_admin_login_are_throttled_like_the_sign_in(client, staff_admin):
    # Given many wrong passwords posted to the admin's login form
    for _ in range(12):
        response = _admin_form_post(client, "guess")
        # Then none is checked there: each is sent to the OMS sign-in
        assert response.status_code == 302
        assert response["Location"].startswith(LOGIN)
    # And the right password posted there gives no session either
    _admin_form_post(client)
    assert not _opens_back_office(client)
    # While at the sign-in, five failures stop that name from this address
    for _ in range(5):
        client.post(LOGIN, {"login": "boss", "password": "guess"})
    response = client.post(LOGIN, {"login": "boss", "password": DEFAULT_PASSWORD})
    assert "Too many failed login attempts" in response.content.decode()
    assert not _opens_back_office(client)


def test_a_password_alone_does_not_open_the_back_office_of_a_totp_user(client, staff_admin):
    # Given an admin with an authenticator app
    secret = generate_totp_secret()
    TOTP.activate(staff_admin, secret)
    # When only the username and password are posted to the admin's login form
    _admin_form_post(client)
    # Then there is no session
    assert not _opens_back_office(client)
    assert client.get("/api/v1/me").status_code in (401, 403)
    # And at the sign-in a password alone only leads to the code page
    response = client.post(LOGIN, {"login": "boss", "password": DEFAULT_PASSWORD})
    assert response["Location"] == reverse("mfa_authenticate")
    assert not _opens_back_office(client)
    # When the code follows, the back office opens
    client.post(reverse("mfa_authenticate"), {"code": _current_totp(secret)})
    assert _opens_back_office(client)


def test_a_session_that_skipped_the_second_factor_is_asked_for_it(staff_admin):
    # Given a session of a TOTP admin made without the code (as any other door would)
    secret = generate_totp_secret()
    TOTP.activate(staff_admin, secret)
    client = Client()
    client.force_login(staff_admin)
    # When it opens a back-office page
    page = reverse("admin:accounts_user_changelist")
    response = client.get(page)
    # Then it is asked for a code first, and sent back after giving it
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('mfa_reauthenticate')}?{urlencode({'next': page})}"
    response = client.post(response["Location"], {"code": _current_totp(secret)})
    assert response["Location"] == page
    assert client.get(page).status_code == 200


def test_a_signed_in_non_staff_user_cannot_sign_in_as_someone_else_there(client, staff_admin):
    # Given a trader's session
    UserFactory(username="trader9")
    client.post(LOGIN, {"login": "trader9", "password": DEFAULT_PASSWORD})
    # When it posts the admin's credentials to the admin's login form
    response = _admin_form_post(client)
    # Then it is refused, and the session is still the trader's
    assert response.status_code == 403
    assert client.get("/api/v1/me").json()["username"] == "trader9"
