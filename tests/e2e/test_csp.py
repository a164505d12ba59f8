"""Content-Security-Policy in a real browser: every main page, for every role, is served with
the policy (scripts only from our own files) and still works under it: no violation is
reported, no JavaScript error, the live stream connects, the Swagger UI renders, the
admin's and allauth's pages load, and behaviour that used to be inline (confirm before
revoking a key, the account picker submitting itself) still happens."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.e2e.helpers import push_tick
from tests.factories import (
    DEFAULT_PASSWORD,
    ApiKeyFactory,
    MembershipFactory,
    UserFactory,
    account_with_member,
)
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Playwright injects this through the browser, not the page, so the policy does not apply.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(
    e.violatedDirective + " " + (e.blockedURI || "inline") + " @" + e.sourceFile
  );
});
"""

APP_PAGES = [
    "/",
    "/watchlist/",
    "/instruments/ACME/",
    "/orders/",
    "/orders/ticket/",
    "/orderbook/ACME/",
    "/positions/",
    "/pnl/",
    "/gtt/",
    "/schedules/",
    "/strategies/",
    "/trading-accounts/",
    "/api-keys/",
    "/notifications/",
    "/accounts/2fa/",
    "/api/v1/docs/",
]
ADMIN_PAGES = [
    "/admin/",
    "/admin/marketdata/instrument/",
    "/admin/marketdata/instrument/add/",
    "/admin/orders/order/",
    "/admin/accounts/user/",
    "/admin/marketdata/instrument/import-csv/",
]


@pytest.fixture
def people(asgi_server):
    """ACME with a quote; a trader owning an account, a viewer who may only see it, a dealer
    trading a client account, and a back-office admin."""
    InstrumentFactory(
        symbol="ACME", exchange=ExchangeFactory(), tick_size=Decimal("0.05"), lot_size=Decimal("1")
    )
    trader = UserFactory(username="csp-trader", role="trader")
    viewer = UserFactory(username="csp-viewer", role="viewer")
    dealer = UserFactory(username="csp-dealer", role="dealer")
    admin = UserFactory(username="csp-admin", role="admin", is_staff=True, is_superuser=True)
    own = account_with_member(user=trader, name="Own paper", cash=Decimal("100000"))
    MembershipFactory(user=viewer, account=own, role="view")
    account_with_member(user=dealer, role="trade", name="Client A")
    key = ApiKeyFactory.issue(user=admin).raw_key
    push_tick(asgi_server, key, symbol="ACME", last="100", bid="99.95", ask="100.05")
    return {"trader": trader, "viewer": viewer, "dealer": dealer, "admin": admin}


def _open(asgi_logged_in_page, user):
    page = asgi_logged_in_page(user)
    page.add_init_script(RECORD_VIOLATIONS)
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(f"pageerror: {error} {error.stack}"))
    page.on(
        "console",
        lambda msg: (
            page.problems.append(f"console: {msg.text}")
            if "Content Security Policy" in msg.text
            else None
        ),
    )
    return page


def _visit(page, path: str) -> None:
    response = page.goto(path)
    assert response.status == 200, (path, response.status)
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("style-src")[0], (
        path,
        policy,
    )
    page.wait_for_load_state("load")
    page.wait_for_timeout(250)  # late scripts (stream, charts) report their violations too
    violations = page.evaluate("window.__cspViolations")
    assert violations == [] and page.problems == [], (path, violations, page.problems)


@pytest.mark.parametrize("role", ["trader", "viewer", "dealer", "admin"])
def test_every_main_page_runs_under_the_policy_without_a_violation(
    role, people, asgi_logged_in_page
):
    # given a user of this role, signed in
    page = _open(asgi_logged_in_page, people[role])
    # when they open every main page, then each carries the policy and nothing is blocked
    for path in APP_PAGES + (ADMIN_PAGES if role == "admin" else []):
        _visit(page, path)
    # and the live stream (WebSocket, connect-src 'self') connected under the policy
    page.goto("/orders/")
    page.wait_for_selector("#live-status[data-state=open]")


def test_swagger_ui_renders_its_operations_under_the_policy(people, asgi_logged_in_page):
    page = _open(asgi_logged_in_page, people["trader"])
    _visit(page, "/api/v1/docs/")
    page.wait_for_selector("#swagger-ui .opblock")
    assert page.locator("#swagger-ui .opblock").count() > 20
    assert page.evaluate("window.__cspViolations") == [] and page.problems == []


def test_login_page_and_markup_behaviour_work_under_the_policy(
    people, asgi_context, asgi_logged_in_page
):
    # the login page, signed out
    anonymous = asgi_context.new_page()
    anonymous.add_init_script(RECORD_VIOLATIONS)
    anonymous.problems = []
    response = anonymous.goto("/accounts/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert anonymous.evaluate("window.__cspViolations") == []
    anonymous.close()

    page = _open(asgi_logged_in_page, people["trader"])
    # the account picker on Positions submits itself when it changes (was onchange=)
    _visit(page, "/positions/")
    account_id = page.locator("#pos-account option").nth(1).get_attribute("value")
    page.select_option("#pos-account", account_id)
    page.wait_for_url(f"**/positions/?account={account_id}")
    # revoking an API key asks first (was onsubmit=): dismissing keeps the key
    _visit(page, "/api-keys/")
    page.fill("input[name=name]", "bot")
    page.click("form.stacked button[type=submit]")
    page.wait_for_selector("form.revoke-form")
    questions = []

    def dismiss(dialog):
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.click("form.revoke-form button[type=submit]")
    page.wait_for_timeout(300)
    assert questions and "Revoke key" in questions[0]
    assert page.locator("form.revoke-form").count() == 1
    assert page.evaluate("window.__cspViolations") == [] and page.problems == []
    # setting up two-factor auth (after confirming the password) shows its QR code, a data:
    # image the policy allows
    _visit(page, "/accounts/2fa/totp/activate/")
    page.fill("main input[name=password]", DEFAULT_PASSWORD)
    page.click("main form button[type=submit]")
    qr = page.locator("img.qr")
    qr.wait_for()
    assert qr.get_attribute("src").startswith("data:image/")
    assert page.evaluate("el => el.naturalWidth", qr.element_handle()) > 0
    assert page.evaluate("window.__cspViolations") == [] and page.problems == []
