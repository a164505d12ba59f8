"""A Kite session that expired, told to people (issue 15): the account's members get one
notification per change, in words, with the account's connection page; every page shows them
a banner with a "Log in to Kite" link until someone logs in again. Against the Kite fake."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import BrokerConnection
from execution.adapters.kite import KiteBroker
from execution.adapters.kite_session import KiteSessionExpiredError
from notifications.models import Notification
from tests.factories import MembershipFactory, UserFactory, account_with_member

BANNER = 'id="broker-session-banner"'


@pytest.fixture
def kite() -> KiteBroker:
    return KiteBroker()


@pytest.fixture
def member(kite_account):
    user = UserFactory(role="trader", username="kiteuser")
    MembershipFactory(user=user, account=kite_account, role="trade")
    return user


@pytest.fixture
def outsider(db):
    user = UserFactory(role="trader", username="outsider")
    account_with_member(user=user, name="Elsewhere")
    return user


def page(user, path: str = "/") -> str:
    client = Client()
    client.force_login(user)
    response = client.get(path, follow=True)
    assert response.status_code == 200, path
    return response.content.decode()


def session_notes(account) -> list[Notification]:
    notes = Notification.objects.filter(kind="broker.status_changed", account=account)
    return list(notes.order_by("created_at"))


def expire(kite, kite_fake, account) -> None:
    """Kite ends the session (its daily reset); OMS finds out on its next call."""
    kite_fake.control("expire_session")
    with pytest.raises(KiteSessionExpiredError):
        kite.positions(account_id=str(account.pk))


def test_an_expired_session_tells_the_members_once_in_words(kite, kite_fake, kite_account, member):
    kite_account.name = "Zerodha main"
    kite_account.save(update_fields=["name"])
    # Given a logged-in Kite account with a member
    # When Kite ends the session and OMS runs into it three times
    expire(kite, kite_fake, kite_account)
    with pytest.raises(KiteSessionExpiredError):
        kite.funds(account_id=str(kite_account.pk))
    kite.check_connection(account_id=str(kite_account.pk))
    # Then the account is session_expired and its member was told once, in words
    assert BrokerConnection.objects.get(pk=kite_account.connection_id).status == "session_expired"
    [note] = session_notes(kite_account)
    link = f"/trading-accounts/{kite_account.pk}/broker/"
    assert note.user == member
    assert note.title == "Kite session expired for Zerodha main: log in again"
    assert link in note.body and note.data["link"] == link
    assert (note.data["status"], note.level) == ("session_expired", "error")


def test_every_page_shows_the_banner_to_members_only(
    kite, kite_fake, kite_account, member, outsider
):
    # Given a member's Kite account whose session expired
    expire(kite, kite_fake, kite_account)
    # When the member opens pages
    for path in ("/", "/orders/", "/notifications/"):
        html = page(member, path)
        # Then each one carries the banner with a link to log in again
        assert BANNER in html, path
        assert f"Kite session expired for {kite_account.name}" in html, path
        assert f'href="/trading-accounts/{kite_account.pk}/broker/">Log in to Kite</a>' in html
    # and someone who is not a member of that account sees no banner
    assert BANNER not in page(outsider)


@pytest.mark.django_db(transaction=True)  # the banner's cache is dropped on commit
def test_logging_in_again_removes_the_banner_and_says_connected(
    kite, kite_fake, kite_account, member, make_key_client
):
    # Given the banner shown (and cached) after the session expired
    expire(kite, kite_fake, kite_account)
    assert BANNER in page(member)
    # When the member completes the Kite login with a fresh request token
    token = kite_fake.control("request_token")["request_token"]
    answer = make_key_client(member).post(
        f"/api/v1/accounts/{kite_account.pk}/broker/session",
        {"request_token": token},
        format="json",
    )
    assert answer.status_code == 200 and answer.json()["status"] == "connected"
    # Then the next page has no banner
    assert BANNER not in page(member)
    # and the member was told of each change once
    assert [n.data["status"] for n in session_notes(kite_account)] == [
        "session_expired",
        "connected",
    ]


def test_an_account_that_never_logged_in_shows_the_banner_too(kite, kite_fake, infy, member):
    from tests.execution.brokers.conftest import kite_account_make

    # Given a Kite account whose member never logged in to Kite
    fresh = kite_account_make(kite_fake, logged_in=False)
    MembershipFactory(user=member, account=fresh, role="owner")
    # When OMS needs its session
    with pytest.raises(KiteSessionExpiredError, match="Not logged in"):
        kite.positions(account_id=str(fresh.pk))
    # Then its members see the banner for it
    assert f"Kite session expired for {fresh.name}" in page(member)


def test_the_notifications_page_links_to_the_connection_page(kite, kite_fake, kite_account, member):
    # Given the member was told the session expired
    expire(kite, kite_fake, kite_account)
    # When they open their notifications, then the notification links to the account's
    # connection page, where they log in again
    html = page(member, "/notifications/")
    assert f'<a class="notif-link" href="/trading-accounts/{kite_account.pk}/broker/">Open</a>' in (
        html
    )
