"""Real-browser fixtures for every app's e2e tests.

A live Django server (pytest-django's `live_server`: WSGI in a thread, static files served,
test database shared) and Chromium driven by Playwright's sync API. Pages that need the
ASGI stack (WebSockets) use `asgi_server` (uvicorn in a thread on the real ASGI app, same
test database: mark such tests `django_db(transaction=True)`) and `asgi_context` (a browser
context whose relative URLs go to it); everything else can use the WSGI live server.

    @pytest.mark.e2e
    def test_something(logged_in_page, trader, screenshot):
        page = logged_in_page(trader)           # session cookie, no form
        page.goto("/trading-accounts/")         # relative to live_server.url
        screenshot(page, "accounts")            # -> /tmp/oms_shots/accounts.png

`login_via_form(page, username)` signs in through the real allauth form instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.asgi_live import serve_asgi
from tests.e2e.desk import desk  # noqa: F401 (a fixture: a desk with orders, GTT, schedules)
from tests.factories import DEFAULT_PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS_DIR = Path(os.environ.get("OMS_SHOTS_DIR", "/tmp/oms_shots"))
DEFAULT_TIMEOUT_MS = 10_000
VIEWPORT = {"width": 1360, "height": 900}


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[object]:
    from playwright import sync_api

    # Playwright's sync API keeps an asyncio loop running in this thread; Django would then
    # refuse synchronous ORM calls from the test body. They are safe here: nothing else runs
    # in that loop.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as pw:
            yield pw
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def browser(playwright_instance) -> Iterator[object]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def browser_context(browser, live_server) -> Iterator[object]:
    """A fresh browser profile per test whose relative URLs go to the live server."""
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(browser_context):
    """A blank, logged-out page. JS errors and failed requests are collected on it."""
    new_page = browser_context.new_page()
    new_page.js_errors = []
    new_page.on("pageerror", lambda error: new_page.js_errors.append(str(error)))
    return new_page


@pytest.fixture
def logged_in_page(browser_context, live_server) -> Callable[..., object]:
    """A factory: `logged_in_page(user)` → a page whose browser is logged in as `user`."""

    def _make(user):
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        browser_context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
        )
        new_page = browser_context.new_page()
        new_page.js_errors = []
        new_page.on("pageerror", lambda error: new_page.js_errors.append(str(error)))
        return new_page

    return _make


def login_via_form(page, username: str, password: str = DEFAULT_PASSWORD) -> None:
    """Sign in through the real login form and wait to leave it."""
    page.goto("/accounts/login/")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", password)
    page.click("form.login-form button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    """`screenshot(page, "name")` saves a full-page PNG under /tmp/oms_shots (OMS_SHOTS_DIR)."""

    def _shot(page, name: str) -> Path:
        SHOTS_DIR.mkdir(parents=True, exist_ok=True)
        path = SHOTS_DIR / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot


@pytest.fixture
def asgi_server() -> Iterator[str]:
    """The real ASGI application (HTTP + WebSocket) served by uvicorn in a thread."""
    with serve_asgi() as server:
        yield server.url


@pytest.fixture
def asgi_context(browser, asgi_server) -> Iterator[object]:
    context = browser.new_context(base_url=asgi_server, viewport=VIEWPORT)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def asgi_logged_in_page(asgi_context, asgi_server) -> Callable[..., object]:
    """A page on the ASGI server with `user` signed in by session cookie."""

    def _make(user):
        client = Client()
        client.force_login(user)
        asgi_context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": asgi_server,
                }
            ]
        )
        return asgi_context.new_page()

    return _make
