"""Issue 15's browser scenario: a trader connects an Alpaca account (the loopback fake of
Alpaca's wire protocol, in-process on a free port) through the connect page, tests the
connection, places a market buy from the ticket and sees the fill arrive in the blotter, the
ticket and the positions without a reload. The fill comes from the fake's trade_updates
stream, followed by the stack's own stream runner (execution.streams.StreamRunner).

Where the stream's execution reports are applied: on MariaDB by orders' report sink in the
stream's thread, as in production. On SQLite's in-memory test database (one shared cache:
a second writer at the same moment gets "table is locked" instead of waiting) the sink is
swapped for a queue and the test applies each burst with the same service
(`order_apply_reports`), one at a time, after the ticket's request is answered."""

from __future__ import annotations

import queue
import re
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection

from execution import registry
from execution.adapters.alpaca import AlpacaBroker
from execution.fakes.alpaca_server import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, alpaca_fake_server
from execution.fakes.quotes import dict_quote_source
from execution.services import broker_callers_reset
from execution.streams import StreamRunner
from orders.core.reports import order_apply_reports
from orders.models import Order, OrderStatus
from tests.e2e.helpers import push_tick, run_outside_loop
from tests.factories import ApiKeyFactory, UserFactory
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory
from tests.polling import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT_MS = 15_000
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def alpaca_fake():
    quotes = {"AAPL": {"bid": "189.90", "ask": "190.10", "last": "190.00"}}
    with alpaca_fake_server(quote_source=dict_quote_source(quotes)) as server:
        yield server


@pytest.fixture
def alpaca_adapter():
    """The real Alpaca adapter, fresh (no cached clients), restored afterwards."""
    saved = registry.ADAPTER_FACTORIES.snapshot()
    registry.register_adapter("alpaca", AlpacaBroker)
    broker_callers_reset()
    yield registry.get_adapter("alpaca")
    registry.ADAPTER_FACTORIES.restore(saved)
    registry.adapter_instances_clear()
    broker_callers_reset()


class Reports:
    """Where the stream's reports go (see the module's docstring)."""

    def __init__(self) -> None:
        self.relayed = connection.vendor == "sqlite"
        self.bursts: queue.Queue = queue.Queue()
        self.seen: list[str] = []  # report types handed over by the stream, in order

    def put(self, burst) -> None:
        self.seen.extend(r.type for r in burst)
        if self.relayed:
            self.bursts.put(burst)
        else:
            order_apply_reports(burst)

    def apply_until(self, done, timeout: float = 15.0) -> None:
        """Apply relayed bursts (SQLite) until `done()`; on MariaDB only wait for it."""
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, f"timed out; the stream sent {self.seen}"
            if not self.relayed:
                time.sleep(0.05)
                continue
            try:
                burst = self.bursts.get(timeout=0.05)
            except queue.Empty:
                continue
            run_outside_loop(order_apply_reports, reports=burst)


@pytest.fixture
def stream_reports():
    reports = Reports()
    with registry.REPORT_SINKS.overridden({reports.put: reports.put}):
        yield reports


@pytest.fixture
def stream_runner(alpaca_adapter, stream_reports):
    """Starts the stack's stream runner (as `manage.py run_broker_streams`, polling every
    0.2 s) when called. The test starts it after the connection test: on SQLite's shared
    in-memory database the stream's first status write and the test button's would collide
    ("table is locked") instead of one waiting for the other as on MariaDB."""
    runner = StreamRunner(poll_s=0.2)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    yield thread.start
    stop.set()
    if thread.is_alive():
        thread.join(timeout=15)
        assert not thread.is_alive(), "the stream runner did not stop"


def watched(page):
    """The page, collecting its JavaScript errors in `page.js_errors`."""
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))
    return page


def shots(page, screenshot, name: str) -> None:
    """The page at desktop and phone width: both saved, neither scrolling sideways."""
    for label, size in (("", DESKTOP), ("_phone", PHONE)):
        page.set_viewport_size(size)
        screenshot(page, name + label)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
            f"{name}{label} scrolls sideways"
        )
    page.set_viewport_size(DESKTOP)


def connect_alpaca(page, fake, screenshot) -> None:
    page.goto("/trading-accounts/")
    page.get_by_role("link", name="Connect Alpaca").click()
    page.get_by_label("Account name").fill("Alpaca (fake)")
    page.get_by_label("API key id").fill(DEFAULT_KEY_ID)
    page.get_by_label("API secret key").fill(DEFAULT_SECRET_KEY)
    page.get_by_label("Trading API URL").fill(fake.base_url)
    page.get_by_label("Order updates stream URL").fill(fake.ws_url + "/stream")
    shots(page, screenshot, "alpaca_fake_connect")
    page.get_by_role("button", name="Connect account").click()
    page.wait_for_url("**/broker/")


def test_connect_a_fake_alpaca_account_place_from_the_ticket_and_see_the_fill_live(
    asgi_server,
    asgi_logged_in_page,
    trader,
    screenshot,
    alpaca_fake,
    stream_runner,
    stream_reports,
):
    # given AAPL quoted 189.90 / 190.10 in OMS (from a feed) and at the fake Alpaca
    InstrumentFactory(symbol="AAPL", exchange=ExchangeFactory(), tick_size=Decimal("0.01"))
    feed_key = ApiKeyFactory.issue(user=UserFactory(username="feed", role="admin")).raw_key
    push_tick(asgi_server, feed_key, symbol="AAPL", last="190.00", bid="189.90", ask="190.10")
    page = watched(asgi_logged_in_page(trader))
    page.set_viewport_size(DESKTOP)

    # when the trader connects an Alpaca account whose URLs point at the fake
    connect_alpaca(page, alpaca_fake, screenshot)
    # and tests the connection on its connection page
    page.get_by_role("button", name="Test connection").click()
    result = page.locator("#broker-test-result")
    result.filter(has_text=" ms: ").wait_for()
    # then it says connected, with the latency measured, in words
    assert re.fullmatch(r"OK in \d+ ms: .+", result.inner_text()), result.inner_text()
    page.locator("#broker-status").filter(has_text="Connected").wait_for()
    shots(page, screenshot, "alpaca_fake_connection")

    # and the stack's stream runner follows the new account at the fake
    stream_runner()
    wait_for(lambda: len(alpaca_fake.app.subscribers) == 1, timeout=15)
    account_id = page.url.rstrip("/").split("/")[-2]

    # when the trader opens the blotter, and places a market buy of 5 AAPL from the ticket
    blotter = watched(page.context.new_page())
    blotter.goto("/orders/")
    blotter.wait_for_selector("#live-status[data-state=open]", timeout=WAIT_MS)
    page.goto("/orders/ticket/")
    page.select_option("#f-account", account_id)
    page.fill("#f-symbol", "AAPL")
    page.check("#side-buy", force=True)
    page.select_option("#f-type", "market")
    page.fill("#f-qty", "5")
    page.click("#place-btn")
    page.wait_for_selector("#ticket-result a", timeout=WAIT_MS)
    order = Order.objects.get(account_id=account_id)

    # then the fill comes back on Alpaca's trade_updates stream and is booked once
    stream_reports.apply_until(lambda: Order.objects.get(pk=order.pk).status == OrderStatus.FILLED)
    assert "fill" in stream_reports.seen
    order.refresh_from_db()
    assert (order.filled_qty, order.avg_fill_price) == (Decimal("5"), Decimal("190.10"))
    [at_fake] = alpaca_fake.app.state.orders.values()
    assert at_fake.client_order_id == str(order.pk) and at_fake.status == "filled"

    # and the pages show it without a reload: the ticket's badge, the blotter's row
    page.wait_for_function(
        "() => document.querySelector('#ticket-result [data-role=placed-status]')"
        ".textContent === 'Filled'",
        timeout=WAIT_MS,
    )
    blotter.wait_for_function(
        "(id) => { const td = document.querySelector("
        '`tr[data-id="${id}"] [data-col="status"]`); '
        "return td && td.textContent.toLowerCase().includes('filled'); }",
        arg=str(order.pk),
        timeout=WAIT_MS,
    )
    screenshot(blotter, "alpaca_fake_blotter_filled")
    # and the position is there
    page.goto(f"/positions/?account={account_id}")
    page.get_by_role("cell", name="AAPL").first.wait_for()
    screenshot(page, "alpaca_fake_position")
    assert page.js_errors == [] and blotter.js_errors == []
