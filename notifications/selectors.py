"""Reads for notifications and for the live stream's access checks."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import AccountMembership, Role, TradingAccount, User
from accounts.selectors import account_ids_for_user
from notifications.models import Notification
from notifications.stream import StreamAccess, normalize_id
from notifications.stream_log import LoggedPush, retention, stream_log
from oms_site.errors import NotFound

_IN_CHUNK = 500  # ids per IN (...) list


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


def account_stream_audience(*, account_ids: list[str]) -> dict[str, set[str]]:
    """Who may see each account's live events: its active members and every active admin
    (user ids), for numbering pushes per user."""
    admins = {
        normalize_id(pk)
        for pk in User.objects.filter(
            Q(role=Role.ADMIN) | Q(is_superuser=True), is_active=True
        ).values_list("pk", flat=True)
    }
    audience: dict[str, set[str]] = {account_id: set(admins) for account_id in account_ids}
    for start in range(0, len(account_ids), _IN_CHUNK):
        rows = AccountMembership.objects.filter(
            account_id__in=account_ids[start : start + _IN_CHUNK], user__is_active=True
        ).values_list("account_id", "user_id")
        for account_id, user_id in rows:
            audience[normalize_id(account_id)].add(normalize_id(user_id))
    return audience


def stream_access_for_user(*, user: User) -> StreamAccess:
    """What the live stream may show this user (read when the stream opens)."""
    return StreamAccess(
        user_id=normalize_id(user.pk),
        sees_all_accounts=user.is_oms_admin,
        account_ids=frozenset(account_ids_for_user(user=user)),
    )


def stream_access_for_users(*, users: list[User]) -> dict[str, StreamAccess]:
    """`stream_access_for_user` for many users in two queries (the heartbeat re-check of
    every stream of a process): user id → access."""
    member_ids = [user.pk for user in users if not user.is_oms_admin]
    visible: dict[str, set[str]] = defaultdict(set)
    for start in range(0, len(member_ids), _IN_CHUNK):
        rows = AccountMembership.objects.filter(
            user_id__in=member_ids[start : start + _IN_CHUNK]
        ).values_list("user_id", "account_id")
        for user_id, account_id in rows:
            visible[normalize_id(user_id)].add(normalize_id(account_id))
    every_account: frozenset[str] = frozenset()
    if len(member_ids) < len(users):
        every_account = frozenset(
            normalize_id(pk) for pk in TradingAccount.objects.values_list("id", flat=True)
        )
    out = {}
    for user in users:
        user_id = normalize_id(user.pk)
        admin = user.is_oms_admin
        out[user_id] = StreamAccess(
            user_id=user_id,
            sees_all_accounts=admin,
            account_ids=every_account if admin else frozenset(visible[user_id]),
        )
    return out


@dataclass(frozen=True, slots=True)
class MissedPushes:
    """The pushes a user missed after a seq: `results` (the first `limit`, oldest first) of
    `count`; `complete` is False when the log no longer holds all of them (older than the
    retention window, beyond its size, or a seq this server never gave), so the client must
    re-read state over REST instead."""

    count: int
    results: list[LoggedPush]
    last_seq: int
    complete: bool


def stream_missed(*, user: User, after: int, limit: int) -> MissedPushes:
    last_seq, logged = stream_log().read(normalize_id(user.pk), after=after)
    cutoff = timezone.now() - retention()
    kept = [push for push in logged if push.at >= cutoff]
    # Complete: nothing after `after`, or the kept pushes start right after it (a seq
    # beyond the last one given is one this server does not know).
    caught_up = after == last_seq
    complete = caught_up or (after < last_seq and bool(kept) and kept[0].seq == after + 1)
    # Access now, not when the push was logged: an account taken away is taken away.
    access = stream_access_for_user(user=user)
    visible = [
        push for push in kept if push.account is None or access.may_see_account(push.account)
    ]
    return MissedPushes(
        count=len(visible), results=visible[:limit], last_seq=last_seq, complete=complete
    )
