"""Idempotent demo data: users, their trading accounts, memberships and risk limits.

`manage.py seed_demo` calls `demo_seed_accounts`, then every seeder other apps registered
with `accounts.registry.register_demo_seeder` (instruments, orders, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction

from accounts import services
from accounts.models import (
    AccountMembership,
    MembershipRole,
    RiskLimits,
    Role,
    TradingAccount,
    User,
)

DEMO_STARTING_CASH = Decimal("1000000")
DEMO_CURRENCY = "INR"


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    superuser: bool = False
    about: str = ""


@dataclass(frozen=True)
class DemoAccount:
    name: str
    broker: str
    owner: str
    members: dict[str, str] = field(default_factory=dict)


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", Role.ADMIN, superuser=True, about="back office, sees every account"),
    DemoUser("dealer", Role.DEALER, about="trades Client A and Client B"),
    DemoUser("trader", Role.TRADER, about="owns a paper and an exchange account"),
    DemoUser("viewer", Role.VIEWER, about="views the trader's paper account"),
    DemoUser("client_a", Role.TRADER, about="owns Client A — Paper"),
    DemoUser("client_b", Role.TRADER, about="owns Client B — Exchange"),
)

DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("Client A — Paper", "paper", "client_a", {"dealer": MembershipRole.TRADE}),
    DemoAccount("Client B — Exchange", "exchange", "client_b", {"dealer": MembershipRole.TRADE}),
    DemoAccount("Trader — Paper", "paper", "trader", {"viewer": MembershipRole.VIEW}),
    DemoAccount("Trader — Exchange", "exchange", "trader"),
)


@dataclass
class DemoSeedResult:
    users: dict[str, User]
    accounts: dict[str, TradingAccount]
    created_users: int = 0
    created_accounts: int = 0


def _demo_user(spec: DemoUser, password: str) -> tuple[User, bool]:
    user = User.objects.filter(username=spec.username).first()
    if user is None:
        user = services.user_create(
            username=spec.username,
            role=spec.role,
            email=f"{spec.username}@example.com",
            password=password,
            is_superuser=spec.superuser,
        )
        return user, True
    # Keep the printed logins true: same password, role and flags as the spec.
    changed = False
    if not user.check_password(password):
        user.set_password(password)
        changed = True
    wanted = {
        "role": spec.role,
        "is_active": True,
        "is_staff": spec.role == Role.ADMIN or spec.superuser,
        "is_superuser": spec.superuser,
    }
    for attr, value in wanted.items():
        if getattr(user, attr) != value:
            setattr(user, attr, value)
            changed = True
    if changed:
        user.save()
    return user, False


def _demo_account(spec: DemoAccount, users: dict[str, User]) -> tuple[TradingAccount, bool]:
    owner = users[spec.owner]
    account = (
        TradingAccount.objects.filter(
            name=spec.name, memberships__user=owner, memberships__role=MembershipRole.OWNER
        )
        .order_by("created_at")
        .first()
    )
    created = account is None
    if created:
        account = services.account_create(
            actor=None,
            owner=owner,
            name=spec.name,
            broker=spec.broker,
            starting_cash=DEMO_STARTING_CASH,
            currency=DEMO_CURRENCY,
        )
    RiskLimits.objects.get_or_create(account=account)
    for username, role in spec.members.items():
        services.membership_set(actor=None, account=account, user=users[username], role=role)
    return account, created


@transaction.atomic
def demo_seed_accounts(*, password: str) -> DemoSeedResult:
    result = DemoSeedResult(users={}, accounts={})
    for spec in DEMO_USERS:
        user, created = _demo_user(spec, password)
        result.users[spec.username] = user
        result.created_users += created
    for spec in DEMO_ACCOUNTS:
        account, created = _demo_account(spec, result.users)
        result.accounts[spec.name] = account
        result.created_accounts += created
    return result


def demo_memberships() -> list[AccountMembership]:
    names = [spec.name for spec in DEMO_ACCOUNTS]
    return list(
        AccountMembership.objects.filter(account__name__in=names)
        .select_related("user", "account")
        .order_by("account__name", "user__username")
    )
