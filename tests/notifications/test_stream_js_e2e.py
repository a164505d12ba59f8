"""static/js/stream.js in a real browser against the real ASGI app (uvicorn in a thread)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn
from django.test import Client

from oms_site.asgi import application
from tests.notifications.factories import NotificationFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WAIT_MS = 10_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def asgi_server():
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            application, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser_page(monkeypatch):
    playwright_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; DB calls stay synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        yield context
        browser.close()


def test_stream_js_connects_keeps_the_bell_and_serves_page_components(
    asgi_server, browser_page, trader
):
    # given a logged-in trader with two unread notifications
    NotificationFactory.create_batch(2, user=trader)
    client = Client()
    client.force_login(trader)
    browser_page.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": asgi_server}]
    )
    page = browser_page.new_page()

    # when the notifications page loads
    page.goto(asgi_server + "/notifications/")

    # then the live dot turns open and the bell shows the unread count
    page.wait_for_selector("#live-status[data-state=open]", timeout=WAIT_MS)
    page.wait_for_function(
        "document.getElementById('notif-count').textContent === '2'", timeout=WAIT_MS
    )
    assert page.get_attribute("#notif-count", "hidden") is None

    # and two components subscribed to the same channel both get its events
    page.evaluate(
        """() => {
            window.__got = [];
            OMS.stream.subscribe(["notifications"], m => window.__got.push("a:" + m.event));
            OMS.stream.subscribe("notifications", m => window.__got.push("b:" + m.event));
        }"""
    )

    # when everything is marked read (as from another tab)
    result = page.evaluate(
        "() => OMS.api('POST', '/api/v1/notifications/read-all').then(r => r.data)"
    )
    assert result == {"updated": 2, "unread": 0}

    # then the pushed event clears the bell and the page's rows, and reaches both handlers
    page.wait_for_function(
        "document.getElementById('notif-count').hidden === true", timeout=WAIT_MS
    )
    page.wait_for_function("document.querySelectorAll('tr.unread').length === 0", timeout=WAIT_MS)
    page.wait_for_function("window.__got.length === 2", timeout=WAIT_MS)
    assert sorted(page.evaluate("window.__got")) == [
        "a:notification.read_all",
        "b:notification.read_all",
    ]
    assert page.text_content("#notif-unread-badge") == "0 unread"
