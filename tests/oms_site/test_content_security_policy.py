"""The Content-Security-Policy: every response carries it, it runs no inline script, and no
template depends on inline script (which the policy would block in the browser).
tests/e2e/test_csp.py checks the pages themselves in Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from tests.factories import UserFactory

TEMPLATE_DIRS = [
    Path(settings.BASE_DIR) / "templates",
    *Path(settings.BASE_DIR).glob("*/templates"),
]
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE | re.DOTALL)


def _directives(policy: str) -> dict[str, list[str]]:
    parts = [part.split() for part in policy.split(";") if part.strip()]
    return {part[0]: part[1:] for part in parts}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/orders/ticket/", "/api/v1/docs/", "/api/v1/orders"])
def test_pages_carry_a_policy_that_runs_only_our_own_scripts(client, path):
    client.force_login(UserFactory(username="csp-unit"))
    response = client.get(path)
    assert response.status_code == 200
    policy = _directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


@pytest.mark.django_db
def test_the_login_page_carries_the_policy(client):
    response = client.get("/accounts/login/")
    assert _directives(response["Content-Security-Policy"])["script-src"] == ["'self'"]


@pytest.mark.django_db
def test_the_swagger_ui_initialises_from_a_script_file(client):
    # drf-spectacular's split view: the page loads its init script instead of inlining it
    page = client.get("/api/v1/docs/").content.decode()
    assert "?script" in page
    script = client.get("/api/v1/docs/?script")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


def test_no_template_has_an_inline_script_or_event_handler():
    offenders = []
    for folder in TEMPLATE_DIRS:
        for template in folder.rglob("*.html"):
            text = template.read_text()
            for match in SCRIPT_TAG.finditer(text):
                attrs = match.group(1)
                if "src=" not in attrs and "application/json" not in attrs:
                    offenders.append(f"{template}: inline <script{attrs}>")
            if INLINE_HANDLER.search(text):
                offenders.append(f"{template}: on…= handler")
    assert offenders == []
