"""After the live stream drops and comes back, a page shows what a fresh load would show."""

from __future__ import annotations

import pytest

from tests.notifications.factories import NotificationFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT_MS = 10_000


def test_a_page_back_from_a_drop_shows_what_it_missed(asgi_server, asgi_logged_in_page, trader):
    # given the notifications page open on a live stream, with one notification
    NotificationFactory(user=trader, title="before the drop")
    page = asgi_logged_in_page(trader)
    page.goto(asgi_server + "/notifications/")
    page.wait_for_selector("#live-status[data-state=open]", timeout=WAIT_MS)
    page.evaluate(
        "() => { window.__resyncs = 0; OMS.stream.on('resync', () => window.__resyncs++); }"
    )

    # when two notifications arrive that the page never got pushed (as while its socket was
    # down), and the socket then drops and reconnects
    NotificationFactory(user=trader, title="missed one")
    NotificationFactory(user=trader, title="missed two")
    assert page.locator("text=missed one").count() == 0
    page.evaluate("() => OMS.stream.reconnect()")

    # then the page re-reads and shows them, with the bell and the unread count as a reload would
    page.wait_for_function("() => window.__resyncs === 1", timeout=WAIT_MS)
    page.wait_for_selector("text=missed two", timeout=WAIT_MS)
    assert page.locator("#notification-table tbody tr[data-id]").count() == 3
    assert page.text_content("#notif-unread-badge") == "3 unread"
    page.wait_for_function(
        "() => document.getElementById('notif-count').textContent === '3'", timeout=WAIT_MS
    )
