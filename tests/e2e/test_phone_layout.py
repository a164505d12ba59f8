"""Every main page on a phone (390 px) and a desktop (1440 px), for a trader and an admin:
the page itself never scrolls sideways (wide tables scroll inside their own wrapper or turn
into cards), and the row actions (Close, Cancel, Edit, …) are on screen and not cut.

The desk (tests/e2e/desk.py) has what makes pages wide: a filled position, a resting limit
order, a TWAP with its progress bar, a GTT and schedules, all made through the HTTP API."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.crypto import encrypt_credentials
from accounts.models import BrokerConnection
from execution.fakes.alpaca_server import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, alpaca_fake_server
from tests.factories import account_with_member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
ACTIONS = ("Close", "Cancel", "Edit", "Pause", "Resume", "Delete", "Revoke", "Remove", "Mark read")

# Offending elements on the page: action buttons that are off screen, cut by an ancestor
# that clips (a table wrapper scrolled sideways) or whose own text does not fit (ellipsis).
HIDDEN_ACTIONS_JS = """(names) => {
  const vw = document.documentElement.clientWidth;
  const bad = [];
  for (const el of document.querySelectorAll("main button, main a.btn")) {
    const text = el.title || el.textContent.trim();  // icon buttons are named by their title
    if (!names.some((n) => text.startsWith(n))) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;  // not displayed (e.g. hidden form)
    const why = [];
    if (r.left < -0.5 || r.right > vw + 0.5) why.push("off screen " + r.left + ".." + r.right);
    if (el.scrollWidth > el.clientWidth + 1) why.push("text cut");
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const style = getComputedStyle(p);
      if (style.overflowX === "visible" && style.overflow === "visible") continue;
      const pr = p.getBoundingClientRect();
      if (r.left < pr.left - 0.5 || r.right > pr.right + 0.5) {
        why.push("clipped by " + p.tagName.toLowerCase() + "." + p.className);
        break;
      }
    }
    if (why.length) bad.push(text + ": " + why.join(", "));
  }
  return bad;
}"""


@pytest.fixture
def alpaca_account(trader):
    """The trader's Alpaca account at the loopback fake (pages read its cash from there),
    its connection last seen refusing the key: a long detail in the status card."""
    with alpaca_fake_server() as fake:
        connection = BrokerConnection.objects.create(
            name="Alpaca paper — a long connection name for the layout check",
            broker="alpaca",
            credentials_encrypted=encrypt_credentials(
                {"key_id": DEFAULT_KEY_ID, "secret_key": DEFAULT_SECRET_KEY}
            ),
            settings={"base_url": fake.base_url, "stream_url": fake.ws_url + "/stream"},
            status="error",
            last_error="Alpaca refused the key: request is not authorized (HTTP 401, 40110000).",
        )
        yield account_with_member(
            user=trader, broker="alpaca", connection=connection, currency="USD", cash=Decimal(0)
        )


def _pages(desk: dict, alpaca_account) -> list[tuple[str, str]]:
    account = desk["account"]
    return [
        ("dashboard", "/"),
        ("watchlist", "/watchlist/"),
        ("instrument", "/instruments/ACME/"),
        ("ticket", "/orders/ticket/"),
        ("blotter", "/orders/?tab=all"),
        ("order", f"/orders/{desk['twap']}/"),
        ("book", "/orderbook/ACME/"),
        ("positions", "/positions/"),
        ("lots", f"/positions/{account.pk}/ACME/lots/"),
        ("pnl", "/pnl/"),
        ("gtt", "/gtt/"),
        ("schedules", "/schedules/"),
        ("accounts", "/trading-accounts/"),
        ("account", f"/trading-accounts/{account.pk}/"),
        ("connect_alpaca", "/trading-accounts/connect/alpaca/"),
        ("connect_kite", "/trading-accounts/connect/kite/"),
        ("connection_paper", f"/trading-accounts/{account.pk}/broker/"),
        ("connection_alpaca", f"/trading-accounts/{alpaca_account.pk}/broker/"),
        ("account_alpaca", f"/trading-accounts/{alpaca_account.pk}/"),
        ("api_keys", "/api-keys/"),
        ("notifications", "/notifications/"),
        ("notification_settings", "/notifications/settings"),
        ("notification_deliveries", "/notifications/deliveries"),
        ("strategies", "/strategies/"),
    ]


def _settle(page) -> None:
    """Wait until the page's own data calls have drawn their rows ("Loading…" gone)."""
    page.wait_for_load_state("load")
    page.wait_for_function("() => !/Loading/.test(document.querySelector('main').innerText)")
    page.wait_for_timeout(150)


def _problems(page, name: str) -> list[str]:
    problems = []
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    if width[0] != width[1]:
        problems.append(f"{name}: page is {width[0]} px wide in a {width[1]} px viewport")
    problems += [f"{name}: {bad}" for bad in page.evaluate(HIDDEN_ACTIONS_JS, list(ACTIONS))]
    problems += [f"{name}: {bad}" for bad in page.evaluate(LABELLED_MESSAGES_JS)]
    return problems


# A cell across a whole card table's row is a message ("No open orders."): on a phone it
# must not wear a column's label above it.
LABELLED_MESSAGES_JS = """() => {
  const bad = [];
  document.querySelectorAll("table.cards").forEach(table => {
    let columns = 0;
    table.querySelectorAll("thead tr:first-child th").forEach(th => {
      columns += Number(th.getAttribute("colspan")) || 1;
    });
    table.querySelectorAll("tbody td[data-label]").forEach(td => {
      if ((Number(td.getAttribute("colspan")) || 1) >= columns) {
        bad.push(`"${td.textContent.trim()}" is labelled "${td.dataset.label}"`);
      }
    });
  });
  return bad;
}"""


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1440px"])
@pytest.mark.parametrize("who", ["trader", "admin"])
def test_no_page_scrolls_sideways_and_row_actions_stay_visible(
    desk, alpaca_account, who, viewport, trader, admin_user, logged_in_page, screenshot
):
    # given the trader (or the admin) on a phone or a desktop
    user = trader if who == "trader" else admin_user
    page = logged_in_page(user)
    page.set_viewport_size(viewport)
    problems = []
    for name, path in _pages(desk, alpaca_account):
        # when each main page is open and has drawn its rows
        page.goto(path)
        _settle(page)
        screenshot(page, f"layout_{who}_{name}_{viewport['width']}")
        # then the page is as wide as the screen and every row action can be pressed
        problems += _problems(page, name)
    assert problems == [], "\n".join(problems)
    assert page.js_errors == []
