"""The daily Kite login in the browser: off to Kite and back through the redirect URL."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests
from django.test import Client

from accounts.models import BrokerConnection
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def browser(kite_account) -> tuple[Client, object]:
    user = UserFactory(role="trader", username="kitepage")
    MembershipFactory(user=user, account=kite_account, role="trade")
    client = Client()
    client.force_login(user)
    return client, kite_account


def _to_kite_and_back(client: Client, account, kite_fake) -> str:
    """The login page's redirect, Kite's redirect back: the callback path with its query."""
    kite_fake.control("config", redirect_url="http://testserver/brokers/kite/callback/")
    answer = client.get(f"/trading-accounts/{account.pk}/kite/login/")
    assert answer.status_code == 302
    assert answer["Location"].startswith(f"{kite_fake.login_url}?api_key=kite_test_key&v=3")
    back = requests.get(answer["Location"], allow_redirects=False, timeout=5)
    assert back.status_code == 302
    parts = urlsplit(back.headers["location"])
    return f"{parts.path}?{parts.query}"


def test_logging_in_through_kite_connects_the_account(browser, kite_fake):
    client, account = browser
    callback = _to_kite_and_back(client, account, kite_fake)
    assert "oms_state=" in callback and "request_token=" in callback
    page = client.get(callback)
    assert page.status_code == 200
    assert b"Connected" in page.content and b"AB1234" in page.content
    assert BrokerConnection.objects.get(pk=account.connection_id).status == "connected"
    # the same redirect again (a reload) is refused: the login state was used
    again = client.get(callback)
    assert again.status_code == 400 and b"not started here" in again.content


def test_a_callback_with_another_state_is_refused(browser, kite_fake):
    client, account = browser
    callback = _to_kite_and_back(client, account, kite_fake)
    forged = callback.replace("oms_state=", "oms_state=x")
    page = client.get(forged)
    assert page.status_code == 400
    assert BrokerConnection.objects.get(pk=account.connection_id).status != "connected"


def test_other_users_accounts_have_no_login_page(kite_account):
    stranger = UserFactory(role="trader", username="kitestranger")
    client = Client()
    client.force_login(stranger)
    assert client.get(f"/trading-accounts/{kite_account.pk}/kite/login/").status_code == 404
