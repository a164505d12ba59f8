"""Headers that keep data out of caches, and a production configuration that is HTTPS only."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory, account_with_member

pytestmark = pytest.mark.django_db


def _never_stored(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def test_api_responses_are_never_stored(make_key_client, api_client, trader):
    # Given a trader's API key and an account with data
    account = account_with_member(user=trader)
    client = make_key_client(trader)
    # When the API answers, data, lists, errors and refusals alike
    responses = [
        client.get("/api/v1/me"),
        client.get("/api/v1/orders"),
        client.get(f"/api/v1/positions?account={account.pk}"),
        client.get("/api/v1/no-such-thing"),
        api_client.get("/api/v1/orders"),
    ]
    # Then no browser or proxy may keep a copy
    for response in responses:
        assert _never_stored(response), (response.request["PATH_INFO"], response.status_code)


def test_pages_of_a_signed_in_user_are_never_stored(trader):
    client = Client()
    client.force_login(trader)
    account = account_with_member(user=trader)
    for url in (
        reverse("dashboard"),
        reverse("order-blotter"),
        reverse("positions"),
        reverse("pnl"),
        reverse("api-key-list"),
        reverse("account-detail", args=[account.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert _never_stored(response), url


def test_back_office_pages_are_never_stored():
    client = Client()
    client.force_login(UserFactory(role="admin", is_staff=True))
    response = client.get(reverse("admin:accounts_apikey_changelist"))
    assert response.status_code == 200
    assert _never_stored(response)


def _production_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        OMS_ENV="production",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        OMS_FERNET_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="oms.example.com,testserver",
        DATABASE_URL=f"sqlite:///{tmp_path / 'production.sqlite3'}",
        # Production needs a REDIS_URL (oms_site.production); these checks never connect.
        REDIS_URL="redis://127.0.0.1:1/0",
    )
    return env


def _manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args],
        env={**_production_env(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=settings.BASE_DIR,
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    # When Django's deployment check runs with OMS_ENV=production and its required variables
    result = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING")
    # Then it finds nothing to warn about
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


_PROBE = """
import json
from django.conf import settings
from django.test import Client
client = Client()
plain = client.get("/accounts/login/")
secure = client.get("/accounts/login/", secure=True)
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location")],
    "secure": secure.status_code,
    "hsts": secure.get("Strict-Transport-Security"),
    "csrf_cookie_secure": bool(secure.cookies["csrftoken"]["secure"]),
    "health_redirected": client.get("/healthz").status_code == 301,
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
}))
"""


def test_production_is_https_only(tmp_path):
    # When a production process answers plain HTTP and HTTPS requests
    result = _manage(tmp_path, "shell", "-c", _PROBE)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    # Then HTTP is redirected to HTTPS (not the load balancer's health check), HTTPS carries
    # HSTS for a year, and the cookies are sent over HTTPS only
    assert seen["plain"] == [301, "https://testserver/accounts/login/"]
    assert seen["health_redirected"] is False
    assert seen["secure"] == 200
    assert seen["hsts"].startswith("max-age=31536000")
    assert seen["csrf_cookie_secure"] is True
    assert seen["session_cookie_secure"] is True


def test_production_refuses_a_short_secret_key(tmp_path):
    result = _manage(tmp_path, "check", SECRET_KEY=secrets.token_urlsafe(30)[:40])
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
