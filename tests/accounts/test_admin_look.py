"""The back office speaks the app's words and wears its theme; /accounts/ goes to the accounts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import RiskLimits
from tests.factories import UserFactory, account_with_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def back_office(login_client):
    return login_client(UserFactory(role="admin", username="backoffice", is_staff=True))


def _index_sections(response) -> dict[str, list[str]]:
    return {
        app["name"]: [model["name"] for model in app["models"]]
        for app in response.context["app_list"]
    }


def test_admin_index_names_what_oms_has(back_office):
    # When the back office opens its index
    sections = _index_sections(back_office.get(reverse("admin:index")))
    # Then allauth's e-mail address list ("Accounts") is gone, and the one kill switch is
    # named as one
    assert "Accounts" not in sections
    assert "Email addresses" not in [name for names in sections.values() for name in names]
    assert "Global kill switch" in sections["Users and trading accounts"]
    assert "Global kill switchs" not in sections["Users and trading accounts"]


def test_risk_limits_show_allowed_symbols_as_text_with_help(back_office, trader):
    # Given an account that may trade any symbol
    account = account_with_member(user=trader)
    url = reverse("admin:accounts_risklimits_change", args=[account.pk])
    # When the back office opens its limits
    response = back_office.get(url)
    html = response.content.decode()
    field = response.context["adminform"].form["allowed_symbols"]
    # Then the field is an empty line with help, not the JSON "null"
    assert field.value() in (None, "")
    assert 'name="allowed_symbols" value="null"' not in html and ">null<" not in html
    assert "Empty: any symbol." in html
    # When two symbols are typed, comma-separated, they are stored as a list
    data = {"allowed_symbols": "acme, INFY"}
    response = back_office.post(url, data)
    assert response.status_code == 302, response.content[:400]
    assert RiskLimits.objects.get(account=account).allowed_symbols == ["ACME", "INFY"]
    # And the form and the list show them as text
    assert 'value="ACME, INFY"' in back_office.get(url).content.decode()
    listing = back_office.get(reverse("admin:accounts_risklimits_changelist")).content.decode()
    assert "ACME, INFY" in listing


def test_risk_limits_list_says_any_symbol(back_office, trader):
    account_with_member(user=trader)
    listing = back_office.get(reverse("admin:accounts_risklimits_changelist"))
    assert '<th scope="col" class="column-symbols">' in listing.content.decode()
    assert '<td class="field-symbols">any</td>' in listing.content.decode()


def test_admin_uses_the_app_dark_theme(back_office):
    html = back_office.get(reverse("admin:index")).content.decode()
    assert "/static/css/admin.css" in html
    # Django's light/auto theme switch is not loaded
    assert "admin/js/theme.js" not in html
    assert "admin/css/dark_mode.css" not in html


def test_accounts_url_goes_to_the_trading_accounts(login_client, trader):
    response = login_client(trader).get("/accounts/")
    assert response.status_code == 302
    assert response["Location"] == reverse("account-list")
