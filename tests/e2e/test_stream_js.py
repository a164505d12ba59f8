"""static/js/stream.js in a real browser against the real ASGI app (uvicorn in a thread)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.notifications.factories import NotificationFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT_MS = 10_000


def test_stream_js_connects_keeps_the_bell_and_serves_page_components(
    asgi_server, asgi_context, trader
):
    # given a logged-in trader with two unread notifications
    NotificationFactory.create_batch(2, user=trader)
    client = Client()
    client.force_login(trader)
    asgi_context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": asgi_server}]
    )
    page = asgi_context.new_page()

    # when the notifications page loads
    page.goto(asgi_server + "/notifications/")

    # then the live dot turns open and the bell shows the unread count
    page.wait_for_selector("#live-status[data-state=open]", timeout=WAIT_MS)
    page.wait_for_function(
        "() => document.getElementById('notif-count').textContent === '2'", timeout=WAIT_MS
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
        "() => document.getElementById('notif-count').hidden === true", timeout=WAIT_MS
    )
    page.wait_for_function(
        "() => document.querySelectorAll('tr.unread').length === 0", timeout=WAIT_MS
    )
    page.wait_for_function("() => window.__got.length === 2", timeout=WAIT_MS)
    assert sorted(page.evaluate("window.__got")) == [
        "a:notification.read_all",
        "b:notification.read_all",
    ]
    assert page.text_content("#notif-unread-badge") == "0 unread"
