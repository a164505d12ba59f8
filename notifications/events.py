"""Events that lower apps report through their registries (accounts: kill switches;
execution: broker reachability), turned into notifications here. Registered in
NotificationsConfig.ready()."""

from __future__ import annotations

from typing import Any

from accounts.broker_sessions import broker_short_title, connection_page_url
from accounts.models import Role, TradingAccount, User
from notifications.models import NotificationEvent
from notifications.selectors import account_stream_audience
from notifications.services import notify, notify_account_members, publish_batch
from notifications.stream import NOTIFICATIONS


def _active_admins() -> list[User]:
    return list(User.objects.filter(role=Role.ADMIN, is_active=True).order_by("pk"))


def kill_switch_changed(
    *, account: TradingAccount | None, engaged: bool, actor: Any, reason: str
) -> None:
    """Tell who it concerns, and push `kill_switch.changed` on the stream to everyone who
    sees the banner, so open pages update it (static/js/notifications/kill_switch.js)."""
    word = "engaged" if engaged else "released"
    by = f" by {actor.username}" if actor is not None else ""
    data = {
        "scope": "account" if account is not None else "global",
        "account": str(account.pk) if account is not None else None,
        "account_name": account.name if account is not None else None,
        "engaged": engaged,
        "reason": reason or None,
    }
    level = "error" if engaged else "success"
    if account is not None:
        title = f"Kill switch {word} on {account.name}"
        body = (
            f"No new orders are accepted on {account.name}{by}."
            if engaged
            else f"Orders are accepted again on {account.name}{by}."
        )
        notify_account_members(
            account=account,
            event=NotificationEvent.KILL_SWITCH_CHANGED,
            title=title,
            body=body,
            data=data,
            level=level,
        )
        audience = account_stream_audience(account_ids=[str(account.pk)]).get(str(account.pk), ())
    else:
        title = f"Global kill switch {word}"
        body = (
            f"No new orders are accepted on any account{by}" + (f": {reason}." if reason else ".")
            if engaged
            else f"Orders are accepted again on every account{by}."
        )
        users = list(User.objects.filter(is_active=True).order_by("pk"))
        for user in users:
            notify(
                user=user,
                kind=NotificationEvent.KILL_SWITCH_CHANGED,
                title=title,
                body=body,
                data=data,
                level=level,
            )
        audience = [str(user.pk) for user in users]
    batch = publish_batch()
    for user_id in sorted(audience):
        batch.add(channel=NOTIFICATIONS, event="kill_switch.changed", data=data, user_id=user_id)


_STATUS_WORDS = {
    "connected": "connected",
    "disconnected": "not answering",
    "session_expired": "session expired: log in again",
    "error": "refused the connection",
}


def broker_status_changed(
    *, broker: str, status: str, detail: str, account_id: str | None = None
) -> None:
    """A broker kind became unreachable or reachable again (its circuit breaker): the members
    of its accounts and the admins (whose connection it is) are told. With `account_id`: one
    account's connection changed state (test button, stream, adapter): its members are told."""
    if account_id is not None:
        _account_broker_status_changed(
            broker=broker, status=status, detail=detail, account_id=account_id
        )
        return
    down = status != "connected"
    title = f"Broker {broker} {'unreachable' if down else 'reachable again'}"
    data = {"broker": broker, "status": status, "detail": detail}
    told: set[object] = set()
    for account in TradingAccount.objects.filter(broker=broker).order_by("pk"):
        for row in notify_account_members(
            account=account,
            event=NotificationEvent.BROKER_STATUS_CHANGED,
            title=title,
            body=f"{account.name}: {detail}",
            data={**data, "account": str(account.pk)},
            level="error" if down else "success",
        ):
            told.add(row.user_id)
    for admin in _active_admins():
        if admin.pk not in told:
            notify(
                user=admin,
                kind=NotificationEvent.BROKER_STATUS_CHANGED,
                title=title,
                body=detail,
                data=data,
                level="error" if down else "success",
            )


def _account_broker_status_changed(
    *, broker: str, status: str, detail: str, account_id: str
) -> None:
    account = TradingAccount.objects.filter(pk=account_id).first()
    if account is None:
        return
    link = connection_page_url(account_id=account.pk)
    if status == "session_expired":
        title = f"{broker_short_title(broker)} session expired for {account.name}: log in again"
        body = f"{detail}\nLog in again on the account's connection page: {link}"
    else:
        title = f"{account.name}: {broker} {_STATUS_WORDS.get(status, status)}"
        body = detail
    notify_account_members(
        account=account,
        event=NotificationEvent.BROKER_STATUS_CHANGED,
        title=title[:200],
        body=body,
        data={
            "broker": broker,
            "status": status,
            "detail": detail,
            "account": str(account.pk),
            "link": link,
        },
        level="success" if status == "connected" else "error",
    )
