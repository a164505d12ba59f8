"""The live stream's vocabulary: channel names, group names, who gets what. Pure Python.

A *channel* is what a client subscribes to (`orders`, `orders:<account_id>`, `notifications`,
`quotes:ACME`); a *group* is where the server publishes (Channels group names). The consumer
maps the first onto the second with `desired_groups`; publishers use `publish_groups`.

Groups:
    acct.<account_id>.<kind>   account-scoped events (orders, positions, fills, ...)
    all.<kind>                 the same events for everyone who sees every account (admins),
                               so an admin joins one group, not one per account
    user.<user_id>.notifications
    quotes.<symbol> / book.<symbol>   market data, public to any authenticated user
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

from oms_site.api import format_decimal

# Account-scoped kinds: the event names the account, subscribers get only visible accounts.
# `signals`: a strategy signal's outcome on one account (strategies/publish.py).
ACCOUNT_KINDS: frozenset[str] = frozenset(
    {"orders", "positions", "fills", "accounts", "gtt", "signals"}
)
# User-scoped: each user sees only their own.
NOTIFICATIONS = "notifications"
# Market data: public to every authenticated user, one group per symbol.
MARKET_KINDS: frozenset[str] = frozenset({"quotes", "book"})

MAX_SYMBOL_LENGTH = 64
# Symbols made only of these characters keep a readable group name; anything else (M&M,
# "NIFTY 50", unicode) is hashed. Underscore is excluded so a hashed name (which starts
# with "_") can never equal a readable one.
_READABLE_SYMBOL = re.compile(r"^[A-Za-z0-9.\-]+$")
_GROUP_NAME = re.compile(r"^[A-Za-z0-9.\-_]+$")
MAX_GROUP_NAME_LENGTH = 99  # Channels requires < 100


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """One parsed client channel. `name` is exactly what the client sent."""

    name: str
    kind: str
    account_id: str | None = None
    symbol: str | None = None

    @property
    def is_account(self) -> bool:
        return self.kind in ACCOUNT_KINDS

    @property
    def is_market(self) -> bool:
        return self.kind in MARKET_KINDS


@dataclass(frozen=True, slots=True)
class StreamAccess:
    """What one user may receive, computed from the DB at subscribe time and refreshed."""

    user_id: str
    sees_all_accounts: bool
    account_ids: frozenset[str]

    def may_see_account(self, account_id: str | None) -> bool:
        if account_id is None:
            return False
        return self.sees_all_accounts or account_id in self.account_ids


def normalize_id(value: object) -> str:
    """Ids travel as strings; UUIDs in their canonical lowercase hyphenated form."""
    text = str(value).strip()
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return text


def parse_channel(name: object) -> ChannelSpec | None:
    """The spec of a client channel name, or None if it is not one we serve."""
    if not isinstance(name, str) or not name or len(name) > 200:
        return None
    kind, sep, arg = name.partition(":")
    if kind == NOTIFICATIONS:
        return ChannelSpec(name=name, kind=kind) if not sep else None
    if kind in ACCOUNT_KINDS:
        if not sep:
            return ChannelSpec(name=name, kind=kind)
        account_id = normalize_id(arg)
        if not account_id or not _GROUP_NAME.match(account_id) or len(account_id) > 64:
            return None
        return ChannelSpec(name=name, kind=kind, account_id=account_id)
    if kind in MARKET_KINDS:
        if not sep or not valid_symbol(arg):
            return None
        return ChannelSpec(name=name, kind=kind, symbol=arg)
    return None


def valid_symbol(symbol: object) -> bool:
    return (
        isinstance(symbol, str)
        and 0 < len(symbol) <= MAX_SYMBOL_LENGTH
        and symbol == symbol.strip()
        and symbol.isprintable()
    )


def _check(group: str) -> str:
    if len(group) > MAX_GROUP_NAME_LENGTH or not _GROUP_NAME.match(group):
        raise ValueError(f"Invalid group name: {group!r}")
    return group


def account_group(*, account_id: str, kind: str) -> str:
    return _check(f"acct.{account_id}.{kind}")


def all_accounts_group(*, kind: str) -> str:
    return _check(f"all.{kind}")


def user_group(*, user_id: str) -> str:
    return _check(f"user.{user_id}.{NOTIFICATIONS}")


def symbol_token(symbol: str) -> str:
    """A group-safe, collision-free token for a symbol (exact, case-sensitive)."""
    if _READABLE_SYMBOL.match(symbol):
        return symbol
    return "_" + hashlib.sha256(symbol.encode()).hexdigest()[:40]


def market_group(*, kind: str, symbol: str) -> str:
    return _check(f"{kind}.{symbol_token(symbol)}")


def spec_groups(spec: ChannelSpec, access: StreamAccess) -> set[str]:
    """The groups a subscription to `spec` needs, given what the user may see."""
    if spec.kind == NOTIFICATIONS:
        return {user_group(user_id=access.user_id)}
    if spec.is_market:
        assert spec.symbol is not None
        return {market_group(kind=spec.kind, symbol=spec.symbol)}
    if spec.account_id is not None:
        if not access.may_see_account(spec.account_id):
            return set()
        return {account_group(account_id=spec.account_id, kind=spec.kind)}
    if access.sees_all_accounts:
        return {all_accounts_group(kind=spec.kind)}
    return {account_group(account_id=aid, kind=spec.kind) for aid in access.account_ids}


def spec_allowed(spec: ChannelSpec, access: StreamAccess) -> bool:
    """May this user subscribe at all? (`orders:<id>` of an invisible account: no.)"""
    if spec.is_account and spec.account_id is not None:
        return access.may_see_account(spec.account_id)
    return True


def desired_groups(specs: Iterable[ChannelSpec], access: StreamAccess) -> dict[str, frozenset[str]]:
    """group → the subscribed channel names that listen through it."""
    out: dict[str, set[str]] = {}
    for spec in specs:
        for group in spec_groups(spec, access):
            out.setdefault(group, set()).add(spec.name)
    return {group: frozenset(names) for group, names in out.items()}


def event_visible(spec: ChannelSpec, message: Mapping[str, Any], access: StreamAccess) -> bool:
    """Defence in depth: would this user be allowed this event on this channel?

    Checked for every message, independent of how it reached the consumer's groups.
    """
    kind = message.get("kind")
    if spec.kind != kind:
        return False
    if spec.kind == NOTIFICATIONS:
        return message.get("user_id") == access.user_id
    if spec.is_market:
        return message.get("symbol") == spec.symbol
    account_id = message.get("account_id")
    if not access.may_see_account(account_id):
        return False
    return spec.account_id is None or spec.account_id == account_id


@dataclass(frozen=True, slots=True)
class Route:
    """Where a publish goes: the groups and the routing keys carried in the message."""

    kind: str
    groups: tuple[str, ...]
    account_id: str | None = None
    user_id: str | None = None
    symbol: str | None = None


def publish_route(*, channel: str, account_id: object = None, user_id: object = None) -> Route:
    """Validate a publisher's channel + ids and compute the groups. ValueError on misuse."""
    kind, sep, arg = channel.partition(":")
    if kind in ACCOUNT_KINDS:
        if sep:
            raise ValueError(
                f"Publish account events on {kind!r} with account_id=, not on {channel!r}."
            )
        if account_id is None or account_id == "":
            raise ValueError(f"Channel {channel!r} needs account_id.")
        aid = normalize_id(account_id)
        return Route(
            kind=kind,
            account_id=aid,
            groups=(account_group(account_id=aid, kind=kind), all_accounts_group(kind=kind)),
        )
    if kind == NOTIFICATIONS and not sep:
        if user_id is None or user_id == "":
            raise ValueError("Channel 'notifications' needs user_id.")
        uid = normalize_id(user_id)
        return Route(kind=kind, user_id=uid, groups=(user_group(user_id=uid),))
    if kind in MARKET_KINDS and sep:
        if not valid_symbol(arg):
            raise ValueError(f"Invalid symbol in channel {channel!r}.")
        if account_id is not None or user_id is not None:
            raise ValueError(f"Market channel {channel!r} takes no account_id/user_id.")
        return Route(kind=kind, symbol=arg, groups=(market_group(kind=kind, symbol=arg),))
    raise ValueError(f"Unknown stream channel {channel!r}.")


def json_safe(value: Any) -> Any:
    """Plain JSON types only: Decimal → canonical string, datetimes → ISO 8601 UTC, UUID → str.

    Raises TypeError for anything else, at publish time, so a bad payload fails the caller's
    tests instead of vanishing on commit.
    """
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return str(value)  # also unwraps str-based enums (TextChoices)
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return json_safe(value.value)
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item) for item in value]
    raise TypeError(f"Cannot publish a {type(value).__name__} in a stream payload.")
