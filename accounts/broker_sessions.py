"""Which of a user's accounts have a broker session that expired (Kite's daily login ran out):
the cached read behind the banner every page shows (templates/base.html, through
`accounts.context_broker_sessions`), and the forgetting of that cache when an account's
connection enters or leaves `session_expired` (execution.broker_config, on commit).

One indexed query per user at most every EXPIRED_SESSIONS_TTL_S seconds; a change of state
drops the cached answer of the account's members at once, so logging in again removes the
banner on the next page (and on open pages, through the live stream).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.urls import reverse

from accounts.models import AccountMembership, AccountStatus, ConnectionStatus, TradingAccount
from accounts.registry import broker_connection_spec

EXPIRED_SESSIONS_TTL_S = 30


@dataclass(frozen=True, slots=True)
class ExpiredSession:
    account_id: str
    account_name: str
    broker_title: str  # "Kite"

    @property
    def login_url(self) -> str:
        return connection_page_url(account_id=self.account_id)


def connection_page_url(*, account_id: object) -> str:
    """The account's broker connection page (test button, Kite login)."""
    return reverse("account-broker", kwargs={"account_id": account_id})


def _key(user_id: object) -> str:
    return f"acct:expired-sessions:{user_id}"


def expired_sessions_for_user(*, user_id: object) -> list[ExpiredSession]:
    """The active accounts `user_id` is a member of whose broker session expired, by name."""
    key = _key(user_id)
    cached = cache.get(key)
    if cached is None:
        rows = (
            TradingAccount.objects.filter(
                memberships__user_id=user_id,
                status=AccountStatus.ACTIVE,
                connection__status=ConnectionStatus.SESSION_EXPIRED,
            )
            .order_by("name")
            .values_list("pk", "name", "broker")
        )
        cached = [(str(pk), name, broker) for pk, name, broker in rows]
        cache.set(key, cached, EXPIRED_SESSIONS_TTL_S)
    return [
        ExpiredSession(account_id=pk, account_name=name, broker_title=broker_short_title(broker))
        for pk, name, broker in cached
    ]


_SHORT_TITLES = {"kite": "Kite"}  # what people call it ("Zerodha Kite" in full)


def broker_short_title(broker: str) -> str:
    """What people call the broker: "Kite", "Alpaca"."""
    if broker in _SHORT_TITLES:
        return _SHORT_TITLES[broker]
    spec = broker_connection_spec(broker)
    return spec.title if spec is not None else broker


def expired_sessions_forget(*, account_id: object = None, connection_id: object = None) -> None:
    """Drop the cached answer of every member of `account_id` (or of every account on
    `connection_id`): its session state changed."""
    members = AccountMembership.objects.all()
    if account_id is not None:
        members = members.filter(account_id=account_id)
    else:
        members = members.filter(account__connection_id=connection_id)
    cache.delete_many([_key(user_id) for user_id in members.values_list("user_id", flat=True)])
