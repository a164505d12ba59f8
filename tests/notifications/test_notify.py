"""notify(): one stored notification per recipient, pushed to each on commit."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts.models import AccountMembership
from notifications import services
from notifications.models import Notification
from notifications.tasks import notifications_purge_old
from oms_site.errors import NotFound
from tests.factories import UserFactory, account_with_member
from tests.notifications.factories import NotificationFactory
from tests.notifications.stream_helpers import next_message, open_stream, subscribe


@pytest.fixture
def account_team():
    """An account with an owner, a trader and a viewer; plus an outsider and an admin."""
    owner = UserFactory(username="owner")
    account = account_with_member(user=owner, role="owner")
    trader = UserFactory(username="member_trade")
    viewer = UserFactory(username="member_view")
    AccountMembership.objects.create(user=trader, account=account, role="trade")
    AccountMembership.objects.create(user=viewer, account=account, role="view")
    outsider = UserFactory(username="outsider")
    account_with_member(user=outsider)
    admin = UserFactory(username="boss", role="admin")
    return {
        "account": account,
        "members": [owner, trader, viewer],
        "outsider": outsider,
        "admin": admin,
    }


@pytest.mark.django_db
def test_account_notification_reaches_every_member_and_nobody_else(account_team):
    # when the account is notified
    rows = services.notify(
        account=account_team["account"],
        kind="order.filled",
        title="Bought 100 ACME @ 10.5",
        body="Order filled.",
        data={"price": Decimal("10.50"), "qty": Decimal("100")},
        level="success",
    )

    # then each member has exactly one, with JSON-safe data; outsiders and admins none
    recipients = sorted(row.user.username for row in rows)
    assert recipients == ["member_trade", "member_view", "owner"]
    for member in account_team["members"]:
        stored = Notification.objects.get(user=member)
        assert stored.account == account_team["account"]
        assert stored.data == {"price": "10.5", "qty": "100"}
        assert stored.level == "success"
        assert stored.read_at is None
    assert not Notification.objects.filter(
        user__in=[account_team["outsider"], account_team["admin"]]
    ).exists()


@pytest.mark.django_db
def test_inactive_members_are_skipped(account_team):
    viewer = account_team["members"][2]
    viewer.is_active = False
    viewer.save()
    rows = services.notify(account=account_team["account"], kind="k", title="t")
    assert viewer not in [row.user for row in rows]
    assert len(rows) == 2


@pytest.mark.django_db
def test_user_notification_goes_to_that_user_only(account_team):
    owner = account_team["members"][0]
    rows = services.notify(
        user=owner, account=account_team["account"], kind="gtt.triggered", title="GTT fired"
    )
    assert [row.user for row in rows] == [owner]
    assert Notification.objects.count() == 1


@pytest.mark.django_db
def test_user_notification_about_an_account_they_cannot_see_is_refused(account_team):
    with pytest.raises(ValueError):
        services.notify(
            user=account_team["outsider"], account=account_team["account"], kind="k", title="t"
        )
    assert Notification.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "k", "title": "t"},  # no recipient
        {"kind": "", "title": "t", "user": "self"},
        {"kind": "k", "title": "t", "user": "self", "level": "shouting"},
    ],
)
def test_bad_notify_calls_store_nothing(kwargs, trader):
    if kwargs.get("user") == "self":
        kwargs["user"] = trader
    with pytest.raises(ValueError):
        services.notify(**kwargs)
    assert Notification.objects.count() == 0


@pytest.mark.django_db
def test_long_titles_are_shortened_not_refused(trader):
    (row,) = services.notify(user=trader, kind="k", title="x" * 500)
    assert len(row.title) == 200
    assert row.title.endswith("…")


@pytest.mark.django_db
def test_mark_read_is_own_only_and_idempotent(trader):
    mine = NotificationFactory(user=trader)
    theirs = NotificationFactory()

    first = services.notification_mark_read(user=trader, notification_id=mine.pk)
    again = services.notification_mark_read(user=trader, notification_id=mine.pk)
    assert first.read_at is not None
    assert again.read_at == first.read_at

    with pytest.raises(NotFound):
        services.notification_mark_read(user=trader, notification_id=theirs.pk)
    with pytest.raises(NotFound):
        services.notification_mark_read(user=trader, notification_id="not-a-uuid")
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.django_db
def test_mark_all_read_touches_only_own_unread(trader):
    NotificationFactory.create_batch(3, user=trader)
    NotificationFactory(user=trader, read_at=timezone.now())
    other = NotificationFactory()
    assert services.notification_mark_all_read(user=trader) == 3
    assert not Notification.objects.filter(user=trader, read_at__isnull=True).exists()
    other.refresh_from_db()
    assert other.read_at is None


@pytest.mark.django_db
def test_purge_drops_only_old_notifications(trader, settings):
    settings.OMS_NOTIFICATION_RETENTION_DAYS = 30
    old = NotificationFactory(user=trader, created_at=timezone.now() - timedelta(days=31))
    recent = NotificationFactory(user=trader, created_at=timezone.now() - timedelta(days=29))
    assert notifications_purge_old.delay().get() == 1
    assert not Notification.objects.filter(pk=old.pk).exists()
    assert Notification.objects.filter(pk=recent.pk).exists()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_notify_pushes_to_each_member_live_and_not_to_others(account_team, api_key_for):
    # given a member and the outsider, both subscribed to their notifications
    member = account_team["members"][1]
    member_key = await database_sync_to_async(api_key_for)(member)
    outsider_key = await database_sync_to_async(api_key_for)(account_team["outsider"])
    async with open_stream(token=member_key) as m_ws, open_stream(token=outsider_key) as o_ws:
        await subscribe(m_ws, ["notifications"])
        await subscribe(o_ws, ["notifications"])

        # when the account is notified
        await database_sync_to_async(services.notify)(
            account=account_team["account"], kind="order.rejected", title="Order rejected"
        )

        # then the member gets notification.created shaped like the REST object
        message = await next_message(m_ws)
        assert message["channel"] == "notifications"
        assert message["event"] == "notification.created"
        assert message["data"]["title"] == "Order rejected"
        assert message["data"]["account"] == str(account_team["account"].pk)
        assert message["data"]["read"] is False
        stored = await database_sync_to_async(Notification.objects.get)(user=member)
        assert message["data"]["id"] == str(stored.pk)
        # and the outsider gets nothing
        assert await o_ws.receive_nothing()

        # when the member reads it, their stream hears about it (other tabs update)
        await database_sync_to_async(services.notification_mark_read)(
            user=member, notification_id=stored.pk
        )
        message = await next_message(m_ws)
        assert message["event"] == "notification.read"
        assert message["data"] == {"ids": [str(stored.pk)], "unread": 0}
