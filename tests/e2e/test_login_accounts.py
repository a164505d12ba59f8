"""A user signs in through the real form, sees their accounts, and manages API keys."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlparse

import pytest

from accounts import services
from accounts.models import ApiKey
from tests.e2e.conftest import login_via_form
from tests.factories import UserFactory, account_with_member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_login_then_accounts_page_lists_my_accounts(page, screenshot):
    # Given a trader with two accounts and a view on someone else's, plus an unrelated account
    trader = UserFactory(username="asha", role="trader")
    other = UserFactory(username="ravi", role="trader")
    account_with_member(user=trader, name="Asha — Paper", cash=Decimal("1000000"))
    account_with_member(
        user=trader, name="Asha — Exchange", broker="exchange", cash=Decimal("250000.75")
    )
    account_with_member(user=other, name="Ravi — Private")
    shared = account_with_member(user=other, name="Ravi — Shared")
    services.membership_set(actor=None, account=shared, user=trader, role="view")

    # When she signs in through the login form
    page.goto("/accounts/login/")
    screenshot(page, "login")
    login_via_form(page, "asha")

    # Then she lands on the dashboard with her accounts
    assert urlparse(page.url).path == "/"
    page.wait_for_selector("#dash-accounts")
    assert page.locator("#dash-accounts").get_by_text("Asha — Paper").is_visible()
    screenshot(page, "dashboard")

    # When she opens the accounts page from the navigation
    page.click("nav.mainnav >> text=Accounts")
    page.wait_for_url("**/trading-accounts/")
    table = page.locator("table.accounts-table")
    names = table.locator("tbody tr td:first-child").all_inner_texts()
    # Then exactly the accounts she may see are listed, with cash
    assert sorted(names) == ["Asha — Exchange", "Asha — Paper", "Ravi — Shared"]
    assert "250,000.75" in table.inner_text()
    screenshot(page, "accounts")

    # And an account opens with its members and limits
    page.click("text=Asha — Exchange")
    page.wait_for_selector("section[aria-label='Members']")
    assert "asha" in page.locator("section[aria-label='Members']").inner_text()
    screenshot(page, "account_detail")
    assert page.js_errors == []


def test_api_keys_page_creates_shows_once_and_revokes(logged_in_page, screenshot):
    trader = UserFactory(username="kiran", role="trader")
    page = logged_in_page(trader)
    page.goto("/api-keys/")

    # When a key is created
    page.fill("input[name=name]", "laptop script")
    page.click("form.stacked button[type=submit]")
    page.wait_for_selector(".secret-once")
    raw = page.inner_text(".secret-once").strip()
    key = ApiKey.objects.get(user=trader)
    # Then the full key is shown once
    assert raw.startswith(f"oms_{key.prefix}_")
    screenshot(page, "api_keys")

    # When it is revoked (confirming the dialog)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("form.revoke-form button")
    page.wait_for_selector(".badge-canceled")
    key.refresh_from_db()
    # Then it is revoked and the secret is gone from the page
    assert key.revoked_at is not None
    assert raw not in page.content()


def test_admin_sees_the_risk_limit_form(logged_in_page, screenshot):
    admin = UserFactory(username="ops", role="admin", is_staff=True)
    owner = UserFactory(username="meera", role="trader")
    account = account_with_member(user=owner, name="Meera — Paper")
    page = logged_in_page(admin)
    page.goto(f"/trading-accounts/{account.pk}/")
    page.fill("input[name=max_open_orders]", "25")
    page.click("form.limits-form button[type=submit]")
    page.wait_for_selector(".msg-success")
    assert page.input_value("input[name=max_open_orders]") == "25"
    screenshot(page, "account_detail_admin")


def test_security_pages_use_the_oms_layout(page, screenshot):
    # Given an admin who signs in with a password
    UserFactory(username="sec", role="admin", is_staff=True)
    login_via_form(page, "sec")
    # When they open Security from the top bar
    page.click("header >> text=Security")
    page.wait_for_url("**/accounts/2fa/")
    assert page.locator("main h1").inner_text().strip() == "Two-Factor Authentication"
    screenshot(page, "security")
    # And start activating an authenticator app (allauth asks for the password again)
    page.click("text=Activate")
    page.fill("input[name=password]", "correct-horse-battery-staple")
    page.click("main button[type=submit]")
    page.wait_for_selector("img.qr")
    # Then the QR code and the code field are shown in the OMS layout
    assert page.locator("input[name=code]").is_visible()
    screenshot(page, "totp_activate")


def test_signup_page_says_closed(page, screenshot):
    page.goto("/accounts/signup/")
    assert "Sign-up is closed" in page.inner_text("main")
    screenshot(page, "signup_closed")
