"""Server-rendered pages: dashboard, trading accounts, API keys. Same access rules as the API."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts import registry
from accounts.models import ApiKey, AuditLogEntry, GlobalKillSwitch, RiskLimits, TradingAccount
from accounts.registry import DashboardPanel
from oms_site.registry import Registry
from tests.factories import ApiKeyFactory, account_with_member

pytestmark = pytest.mark.django_db


def _detail(account) -> str:
    return reverse("account-detail", kwargs={"account_id": account.pk})


def test_dashboard_shows_my_accounts_only(login_client, trader, other_trader):
    # Given a trader with an account, and someone else's account
    account_with_member(user=trader, name="My Swing Book", cash=Decimal("1234567.5"))
    account_with_member(user=other_trader, name="Not Yours")
    # When the trader opens the dashboard
    html = login_client(trader).get(reverse("dashboard")).content.decode()
    # Then their account, its cash and status are there, the other's is not
    assert "My Swing Book" in html
    assert "1,234,567.50" in html
    assert "badge-active" in html
    assert "Not Yours" not in html
    assert 'id="dash-panels"' in html


def test_dashboard_warns_when_the_global_kill_switch_is_on(login_client, trader):
    switch = GlobalKillSwitch.load()
    switch.engaged = True
    switch.save()
    html = login_client(trader).get(reverse("dashboard")).content.decode()
    assert "Global kill switch engaged" in html


def test_dashboard_renders_registered_panels(login_client, trader, monkeypatch, tmp_path, settings):
    # Given another app registered a panel
    (tmp_path / "panel.html").write_text("<div class='card'>Open orders: {{ n }}</div>")
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [*templates[0]["DIRS"], tmp_path]
    settings.TEMPLATES = templates
    monkeypatch.setattr(registry, "DASHBOARD_PANELS", Registry("dashboard panel"))
    registry.register_dashboard_panel(
        DashboardPanel(name="orders", template="panel.html", context=lambda request: {"n": 7})
    )
    # When the dashboard renders, then the panel is there with its context
    html = login_client(trader).get(reverse("dashboard")).content.decode()
    assert 'id="panel-orders"' in html and "Open orders: 7" in html


def test_account_list_page(login_client, dealer):
    account_with_member(user=dealer, role="trade", name="Client A — Paper")
    response = login_client(dealer).get(reverse("account-list"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Client A — Paper" in html
    # A dealer cannot open accounts, so no button to do it
    assert reverse("account-create") not in html


def test_account_detail_shows_members_limits_and_connection_without_secrets(
    login_client, trader, dealer
):
    from accounts import services

    # Given an account with credentials and a dealer member
    account = services.account_create(
        actor=trader,
        name="Live Book",
        broker="exchange",
        starting_cash=Decimal("500"),
        credentials={"api_secret": "do-not-show-me"},
    )
    services.membership_set(actor=trader, account=account, user=dealer, role="trade")
    RiskLimits.objects.filter(account=account).update(max_open_orders=9)
    # When the dealer opens it
    html = login_client(dealer).get(_detail(account)).content.decode()
    # Then members, limits and connection status are shown, never the secret
    assert "Live Book" in html
    assert "trader1" in html and "dealer1" in html
    assert "stored (encrypted)" in html
    assert "do-not-show-me" not in html
    assert account.connection.credentials_encrypted not in html
    assert ">9<" in html
    # And a trade member gets no edit forms
    assert reverse("account-edit", kwargs={"account_id": account.pk}) not in html


def test_someone_elses_account_page_is_404(login_client, trader, other_trader):
    theirs = account_with_member(user=other_trader)
    client = login_client(trader)
    assert client.get(_detail(theirs)).status_code == 404
    edit = reverse("account-edit", kwargs={"account_id": theirs.pk})
    assert client.post(edit, {"name": "x", "status": "active"}).status_code == 404


def test_owner_renames_from_the_page(login_client, trader):
    account = account_with_member(user=trader, name="Old name")
    client = login_client(trader)
    response = client.post(
        reverse("account-edit", kwargs={"account_id": account.pk}),
        {"name": "New name", "status": "active"},
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.name == "New name"
    assert AuditLogEntry.objects.filter(action="account.rename").exists()


def test_owner_cannot_reactivate_from_the_page(login_client, trader):
    account = account_with_member(user=trader, status="suspended")
    client = login_client(trader)
    # The form does not offer it
    html = client.get(_detail(account)).content.decode()
    assert 'value="active"' not in html
    # And a forged post is refused without a change
    response = client.post(
        reverse("account-edit", kwargs={"account_id": account.pk}),
        {"name": account.name, "status": "active"},
    )
    assert response.status_code == 400
    account.refresh_from_db()
    assert account.status == "suspended"


def test_view_member_may_not_edit(login_client, viewer):
    account = account_with_member(user=viewer, role="view", name="Watch only")
    response = login_client(viewer).post(
        reverse("account-edit", kwargs={"account_id": account.pk}),
        {"name": "Hacked", "status": "active"},
    )
    assert response.status_code == 403
    account.refresh_from_db()
    assert account.name == "Watch only"


def test_admin_edits_risk_limits_from_the_page(login_client, admin_user, trader):
    account = account_with_member(user=trader)
    url = reverse("account-risk-limits-edit", kwargs={"account_id": account.pk})
    client = login_client(admin_user)
    # A bad value is shown back as an error, nothing saved
    response = client.post(url, {"price_band_pct": "250"})
    assert response.status_code == 400
    assert RiskLimits.objects.get(account=account).price_band_pct is None
    # Good values are saved through the service
    response = client.post(
        url, {"max_order_qty": "500", "allowed_symbols": "acme, foo", "kill_switch": "on"}
    )
    assert response.status_code == 302
    limits = RiskLimits.objects.get(account=account)
    assert limits.max_order_qty == Decimal("500")
    assert limits.allowed_symbols == ["ACME", "FOO"]
    assert limits.kill_switch is True


def test_owner_may_not_edit_risk_limits_from_the_page(login_client, trader):
    account = account_with_member(user=trader)
    url = reverse("account-risk-limits-edit", kwargs={"account_id": account.pk})
    assert login_client(trader).post(url, {"kill_switch": ""}).status_code == 403


def test_trader_opens_an_account_from_the_page(login_client, trader):
    client = login_client(trader)
    assert client.get(reverse("account-create")).status_code == 200
    response = client.post(
        reverse("account-create"),
        {"name": "Fresh", "broker": "paper", "starting_cash": "1000", "currency": "INR"},
    )
    account = TradingAccount.objects.get(name="Fresh")
    assert response["Location"] == _detail(account)
    assert account.memberships.get().user == trader


def test_create_form_shows_errors_and_stores_nothing(login_client, trader):
    response = login_client(trader).post(
        reverse("account-create"),
        {
            "name": "Bad",
            "broker": "paper",
            "starting_cash": "-1",
            "currency": "inr",
            "credentials": "{not json",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert {"starting_cash", "currency", "credentials"} <= set(errors)
    assert not TradingAccount.objects.exists()


def test_dealer_cannot_open_the_create_page(login_client, dealer):
    assert login_client(dealer).get(reverse("account-create")).status_code == 403


def test_api_key_page_shows_a_new_key_once(login_client, trader):
    client = login_client(trader)
    # When a key is created from the page
    response = client.post(reverse("api-key-list"), {"name": "notebook"})
    html = response.content.decode()
    key = ApiKey.objects.get(user=trader, name="notebook")
    # Then the raw key is shown in the one-time box, and the response is not cached
    assert 'class="secret-once"' in html
    assert f"oms_{key.prefix}_" in html
    assert response["Cache-Control"] == "no-store"
    # And on the next visit only the prefix remains
    again = client.get(reverse("api-key-list")).content.decode()
    assert 'class="secret-once"' not in again
    assert key.prefix in again


def test_api_key_page_revokes_own_keys_only(login_client, trader, other_trader):
    mine = ApiKeyFactory.issue(user=trader, name="mine").api_key
    theirs = ApiKeyFactory.issue(user=other_trader, name="theirs").api_key
    client = login_client(trader)
    assert client.post(reverse("api-key-revoke", kwargs={"key_id": mine.pk})).status_code == 302
    assert client.post(reverse("api-key-revoke", kwargs={"key_id": theirs.pk})).status_code == 404
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.revoked_at is not None
    assert theirs.revoked_at is None
    # And the list does not show the other user's key
    assert "theirs" not in client.get(reverse("api-key-list")).content.decode()
