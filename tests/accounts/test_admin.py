"""The back office: admin-role staff only, every action and save audited, secrets never shown."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from django.urls import reverse

from accounts import selectors
from accounts.models import (
    AccountMembership,
    ApiKey,
    AuditLogEntry,
    BrokerConnection,
    GlobalKillSwitch,
    RiskLimits,
    TradingAccount,
    User,
)
from tests.factories import ApiKeyFactory, UserFactory, account_with_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def back_office(login_client):
    staff_admin = UserFactory(role="admin", username="backoffice", is_staff=True)
    client = login_client(staff_admin)
    client.user = staff_admin
    return client


def _form_data(form, only: set[str] | None = None) -> dict:
    data = {}
    for name in form.fields:
        if only is not None and name not in only:
            continue
        value = form[name].value()
        key = form.add_prefix(name)
        if value is None or value is False:
            continue
        if value is True:
            data[key] = "on"
        elif isinstance(value, list | tuple):
            data[key] = [str(item) for item in value]
        else:
            data[key] = str(value)
    return data


def _change_form_data(response) -> dict:
    """What the browser would post back unchanged from an admin change page."""
    adminform = response.context["adminform"]
    shown = {
        field.field.name
        for fieldset in adminform
        for line in fieldset
        for field in line
        if not field.is_readonly
    }
    data = _form_data(adminform.form, only=shown)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(_form_data(formset.management_form))
        for form in formset.forms:
            data.update(_form_data(form))
    return data


def _action(client, model: str, action: str, pks) -> None:
    url = reverse(f"admin:accounts_{model}_changelist")
    response = client.post(url, {"action": action, "_selected_action": [str(pk) for pk in pks]})
    assert response.status_code == 302, response.content[:500]


def test_non_admin_staff_cannot_use_the_back_office(login_client):
    trader_staff = UserFactory(role="trader", is_staff=True)
    response = login_client(trader_staff).get(reverse("admin:accounts_tradingaccount_changelist"))
    assert response.status_code == 403


def test_every_accounts_page_opens(back_office, trader):
    account = account_with_member(user=trader)
    issued = ApiKeyFactory.issue(user=trader)
    GlobalKillSwitch.load()
    urls = [reverse("admin:index")]
    for model in (
        "user",
        "tradingaccount",
        "brokerconnection",
        "accountmembership",
        "risklimits",
        "globalkillswitch",
        "apikey",
        "auditlogentry",
    ):
        urls.append(reverse(f"admin:accounts_{model}_changelist"))
    urls += [
        reverse("admin:accounts_tradingaccount_change", args=[account.pk]),
        reverse("admin:accounts_tradingaccount_add"),
        reverse("admin:accounts_risklimits_change", args=[account.pk]),
        reverse("admin:accounts_apikey_change", args=[issued.api_key.pk]),
        reverse("admin:accounts_user_change", args=[trader.pk]),
        reverse("admin:accounts_user_add"),
        reverse("admin:accounts_brokerconnection_add"),
    ]
    for url in urls:
        assert back_office.get(url).status_code == 200, url


def test_suspend_and_reactivate_actions_are_audited(back_office, trader):
    # Given two active accounts
    accounts = [account_with_member(user=trader), account_with_member(user=trader)]
    # When the back office suspends them
    _action(back_office, "tradingaccount", "suspend_accounts", [a.pk for a in accounts])
    # Then both are suspended, with one audit entry each naming the admin
    assert set(TradingAccount.objects.values_list("status", flat=True)) == {"suspended"}
    entries = AuditLogEntry.objects.filter(action="account.status", actor=back_office.user)
    assert entries.count() == 2
    assert entries.first().data["new"] == "suspended"
    # When it reactivates them, then they are active again and audited
    _action(back_office, "tradingaccount", "reactivate_accounts", [a.pk for a in accounts])
    assert set(TradingAccount.objects.values_list("status", flat=True)) == {"active"}
    assert AuditLogEntry.objects.filter(action="account.status").count() == 4


def test_kill_switch_actions_are_audited(back_office, trader):
    account = account_with_member(user=trader)
    _action(back_office, "tradingaccount", "engage_kill_switch", [account.pk])
    assert RiskLimits.objects.get(account=account).kill_switch is True
    assert AuditLogEntry.objects.filter(action="kill_switch.engage").count() == 1
    _action(back_office, "risklimits", "release_kill_switch", [account.pk])
    assert RiskLimits.objects.get(account=account).kill_switch is False
    assert AuditLogEntry.objects.filter(action="kill_switch.release").count() == 1


def test_global_kill_switch_actions_are_audited(back_office):
    switch = GlobalKillSwitch.load()
    _action(back_office, "globalkillswitch", "engage", [switch.pk])
    assert selectors.global_kill_switch_engaged() is True
    _action(back_office, "globalkillswitch", "release", [switch.pk])
    assert selectors.global_kill_switch_engaged() is False
    actions = list(
        AuditLogEntry.objects.filter(object_type="accounts.globalkillswitch")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["global_kill_switch.engage", "global_kill_switch.release"]


def test_revoke_key_action_is_audited(back_office, trader):
    issued = ApiKeyFactory.issue(user=trader)
    _action(back_office, "apikey", "revoke_keys", [issued.api_key.pk])
    assert ApiKey.objects.get(pk=issued.api_key.pk).revoked_at is not None
    entry = AuditLogEntry.objects.get(action="api_key.revoke")
    assert entry.actor == back_office.user


def test_a_change_in_the_admin_records_old_and_new(back_office, trader):
    # Given an account, its change page as the browser sees it
    account = account_with_member(user=trader, name="Before")
    url = reverse("admin:accounts_tradingaccount_change", args=[account.pk])
    data = _change_form_data(back_office.get(url))
    # When the name is changed and saved
    data["name"] = "After"
    response = back_office.post(url, data)
    # Then it is saved and the audit entry says what changed
    assert response.status_code == 302, response.context["adminform"].form.errors
    account.refresh_from_db()
    assert account.name == "After"
    entry = AuditLogEntry.objects.get(action="admin.change", object_id=str(account.pk))
    assert entry.data["changes"]["name"] == {"old": "Before", "new": "After"}


def test_adding_an_account_in_the_admin_goes_through_the_service(back_office, trader):
    response = back_office.post(
        reverse("admin:accounts_tradingaccount_add"),
        {
            "owner": str(trader.pk),
            "name": "Opened by back office",
            "broker": "paper",
            "currency": "INR",
            "starting_cash": "5000",
        },
    )
    assert response.status_code == 302
    account = TradingAccount.objects.get(name="Opened by back office")
    assert account.cash == Decimal("5000")
    assert AccountMembership.objects.get(account=account).user == trader
    assert RiskLimits.objects.filter(account=account).exists()
    actions = set(
        AuditLogEntry.objects.filter(object_id=str(account.pk)).values_list("action", flat=True)
    )
    assert {"account.create", "admin.add"} <= actions


def test_membership_inline_changes_are_audited(back_office, trader, dealer):
    # Given an account page with its owner inline, and a dealer to add
    account = account_with_member(user=trader)
    url = reverse("admin:accounts_tradingaccount_change", args=[account.pk])
    data = _change_form_data(back_office.get(url))
    total = int(data["memberships-TOTAL_FORMS"])
    data["memberships-TOTAL_FORMS"] = str(total + 1)
    data[f"memberships-{total}-user"] = str(dealer.pk)
    data[f"memberships-{total}-role"] = "trade"
    data[f"memberships-{total}-account"] = str(account.pk)
    # When saved
    response = back_office.post(url, data)
    # Then the dealer may trade the account, and the membership change is audited
    assert response.status_code == 302
    assert AccountMembership.objects.get(account=account, user=dealer).role == "trade"
    assert AuditLogEntry.objects.filter(action="membership.set").count() == 1


def test_broker_connection_credentials_are_write_only(back_office, settings, trader):
    settings.OMS_FERNET_KEYS = [Fernet.generate_key().decode()]
    # When the back office adds a connection with credentials
    response = back_office.post(
        reverse("admin:accounts_brokerconnection_add"),
        {
            "name": "Zerodha main",
            "broker": "exchange",
            "owner": str(trader.pk),
            "status": "unknown",
            "last_error": "",
            "new_credentials": json.dumps({"api_secret": "top-secret-xyz"}),
        },
    )
    assert response.status_code == 302
    conn = BrokerConnection.objects.get(name="Zerodha main")
    assert selectors.broker_connection_credentials(connection=conn) == {
        "api_secret": "top-secret-xyz"
    }
    # Then no admin page shows the secret or the stored token
    pages = [
        reverse("admin:accounts_brokerconnection_change", args=[conn.pk]),
        reverse("admin:accounts_brokerconnection_changelist"),
        reverse("admin:accounts_brokerconnection_history", args=[conn.pk]),
        reverse("admin:accounts_auditlogentry_changelist"),
    ]
    for url in pages:
        html = back_office.get(url).content.decode()
        assert "top-secret-xyz" not in html, url
        assert conn.credentials_encrypted not in html, url
    # When new credentials are set on the change form, they replace the old ones
    url = reverse("admin:accounts_brokerconnection_change", args=[conn.pk])
    data = _change_form_data(back_office.get(url))
    data["new_credentials"] = json.dumps({"api_secret": "rotated-abc"})
    assert back_office.post(url, data).status_code == 302
    conn.refresh_from_db()
    assert selectors.broker_connection_credentials(connection=conn) == {"api_secret": "rotated-abc"}
    audit_text = json.dumps(list(AuditLogEntry.objects.values_list("data", flat=True)))
    assert "rotated-abc" not in audit_text and "top-secret-xyz" not in audit_text


def test_bad_credentials_json_is_a_form_error(back_office):
    response = back_office.post(
        reverse("admin:accounts_brokerconnection_add"),
        {"name": "x", "broker": "paper", "status": "unknown", "new_credentials": "[1, 2"},
    )
    assert response.status_code == 200
    assert "new_credentials" in response.context["adminform"].form.errors
    assert not BrokerConnection.objects.exists()


def test_risk_limits_admin_validates_and_audits(back_office, trader):
    account = account_with_member(user=trader)
    url = reverse("admin:accounts_risklimits_change", args=[account.pk])
    data = _change_form_data(back_office.get(url))
    # A band above 100 % is refused
    response = back_office.post(url, {**data, "price_band_pct": "150"})
    assert response.status_code == 200
    assert RiskLimits.objects.get(account=account).price_band_pct is None
    # A good value is saved through the service (audited old → new)
    response = back_office.post(url, {**data, "max_open_orders": "12"})
    assert response.status_code == 302
    assert RiskLimits.objects.get(account=account).max_open_orders == 12
    entry = AuditLogEntry.objects.get(action="risk_limits.update")
    assert entry.data["changes"]["max_open_orders"] == {"old": None, "new": 12}


def test_audit_log_is_read_only(back_office, trader):
    account_with_member(user=trader)
    ApiKeyFactory.issue(user=trader)
    entry = AuditLogEntry.objects.first()
    assert back_office.get(reverse("admin:accounts_auditlogentry_add")).status_code == 403
    change_url = reverse("admin:accounts_auditlogentry_change", args=[entry.pk])
    assert back_office.get(change_url).status_code == 200  # view only
    back_office.post(change_url, {"action": "forged"})
    entry.refresh_from_db()
    assert entry.action != "forged"
    delete_url = reverse("admin:accounts_auditlogentry_delete", args=[entry.pk])
    assert back_office.post(delete_url, {"post": "yes"}).status_code == 403
    assert AuditLogEntry.objects.filter(pk=entry.pk).exists()


def test_back_office_creates_users_with_a_password_and_role(back_office):
    response = back_office.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "newdealer",
            "email": "nd@example.com",
            "role": "dealer",
            "usable_password": "true",
            "password1": "Very-long-pass-4921",
            "password2": "Very-long-pass-4921",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(username="newdealer")
    assert user.role == "dealer"
    assert user.check_password("Very-long-pass-4921")
    assert AuditLogEntry.objects.filter(action="admin.add", object_id=str(user.pk)).exists()


def test_deleting_a_membership_is_audited(back_office, trader, dealer):
    account = account_with_member(user=trader)
    membership = AccountMembership.objects.create(user=dealer, account=account, role="view")
    url = reverse("admin:accounts_accountmembership_delete", args=[membership.pk])
    assert back_office.post(url, {"post": "yes"}).status_code == 302
    assert not AccountMembership.objects.filter(pk=membership.pk).exists()
    actions = set(AuditLogEntry.objects.values_list("action", flat=True))
    assert {"admin.delete", "membership.remove"} <= actions


def test_an_account_cannot_use_another_brokers_connection(back_office, trader):
    from accounts import broker_connections

    conn = broker_connections.broker_connection_create(name="Ex", broker="exchange", owner=trader)
    response = back_office.post(
        reverse("admin:accounts_tradingaccount_add"),
        {
            "owner": str(trader.pk),
            "name": "Mismatch",
            "broker": "paper",
            "currency": "INR",
            "starting_cash": "1",
            "connection": str(conn.pk),
        },
    )
    assert response.status_code == 200
    assert "connection" in response.context["adminform"].form.errors
    assert not TradingAccount.objects.filter(name="Mismatch").exists()


def test_broker_connection_settings_are_shown_and_validated(connected_broker, back_office):
    url = reverse("admin:accounts_brokerconnection_add")
    base = {"name": "Alpaca main", "broker": "alpaca", "status": "unknown", "last_error": ""}
    creds = json.dumps({"key_id": "PKADMIN", "secret_key": "admin-secret-xyz"})
    # When the back office adds an Alpaca connection with an ftp URL or without the secret
    bad_url = back_office.post(
        url, {**base, "settings": '{"base_url": "ftp://x.example"}', "new_credentials": creds}
    )
    no_secret = back_office.post(
        url, {**base, "settings": "{}", "new_credentials": '{"key_id": "PK"}'}
    )
    # Then both are form errors and nothing is stored
    assert "settings" in bad_url.context["adminform"].form.errors
    assert "new_credentials" in no_secret.context["adminform"].form.errors
    assert not BrokerConnection.objects.exists()
    # When it is added with a loopback URL
    response = back_office.post(
        url,
        {**base, "settings": '{"base_url": "http://127.0.0.1:9000"}', "new_credentials": creds},
    )
    # Then the settings are stored with the defaults filled in and shown, the secret is not
    assert response.status_code == 302
    conn = BrokerConnection.objects.get(name="Alpaca main")
    assert conn.settings == {
        "base_url": "http://127.0.0.1:9000",
        "stream_url": "wss://paper-api.alpaca.markets/stream",
    }
    html = back_office.get(
        reverse("admin:accounts_brokerconnection_change", args=[conn.pk])
    ).content.decode()
    assert "http://127.0.0.1:9000" in html and "admin-secret-xyz" not in html
