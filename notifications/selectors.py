"""Reads for notifications and for the live stream's access checks."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet

from accounts.models import AccountMembership, TradingAccount, User
from accounts.selectors import account_ids_for_user
from notifications.models import Notification
from notifications.stream import StreamAccess, normalize_id
from oms_site.errors import NotFound


def notification_list(*, user: User, unread: bool = False) -> QuerySet[Notification]:
    """The user's own notifications, newest first."""
    qs = Notification.objects.filter(user=user).select_related("account")
    if unread:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-created_at", "-id")


def notification_get(*, user: User, notification_id: object) -> Notification:
    """One of the user's own notifications; someone else's is as unknown as a missing one."""
    try:
        return Notification.objects.select_related("account").get(pk=notification_id, user=user)
    except (Notification.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        # A malformed id is as unknown as a missing one.
        raise NotFound("Notification not found.") from exc


def notification_unread_count(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def account_recipients(*, account: TradingAccount) -> list[User]:
    """Who is notified about an account: its active members (any role), in a stable order.

    Admins see every account but are not notified about each one unless they are members;
    they can watch everything on the live stream instead.
    """
    user_ids = AccountMembership.objects.filter(account=account).values_list("user_id", flat=True)
    return list(User.objects.filter(pk__in=user_ids, is_active=True).order_by("pk"))


def stream_access_for_user(*, user: User) -> StreamAccess:
    """What the live stream may show this user (re-read on every heartbeat)."""
    return StreamAccess(
        user_id=normalize_id(user.pk),
        sees_all_accounts=user.is_oms_admin,
        account_ids=frozenset(account_ids_for_user(user=user)),
    )
