"""Reads, and the one place that decides who may see or act on which account."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from accounts import crypto, registry
from accounts.models import (
    AccountMembership,
    AccountStatus,
    ApiKey,
    BrokerConnection,
    GlobalKillSwitch,
    MembershipRole,
    RiskLimits,
    TradingAccount,
    User,
)
from oms_site.compiled_query import CompiledSelect
from oms_site.errors import NotFound, PermissionDenied
from oms_site.locks import lock_query

AccessLevel = Literal["view", "trade", "owner"]

_LEVELS: dict[str, set[str]] = {
    "view": {MembershipRole.VIEW, MembershipRole.TRADE, MembershipRole.OWNER},
    "trade": {MembershipRole.TRADE, MembershipRole.OWNER},
    "owner": {MembershipRole.OWNER},
}
# What a member below `level` is told (403).
_REFUSALS: dict[str, str] = {
    "view": "You may not view this account.",
    "trade": "You may not trade on this account.",
    "owner": "Only an owner of this account may do this.",
}


def account_list_for_user(*, user: User) -> QuerySet[TradingAccount]:
    """Every account the user may see: all for admins, memberships for everyone else."""
    qs = TradingAccount.objects.all()
    if not user.is_oms_admin:
        qs = qs.filter(memberships__user=user)
    return qs.order_by("name", "id")


def account_ids_for_user(*, user: User) -> set[str]:
    return {str(pk) for pk in account_list_for_user(user=user).values_list("id", flat=True)}


def user_can_trade_any(*, user: User) -> bool:
    """Whether the user may place orders on at least one account (what trading pages need)."""
    if not user.is_authenticated:
        return False
    if user.is_oms_admin:
        return TradingAccount.objects.exists()
    return AccountMembership.objects.filter(user=user, role__in=_LEVELS["trade"]).exists()


def membership_role(*, user: User, account: TradingAccount) -> str | None:
    if user.is_oms_admin:
        return MembershipRole.OWNER
    return (
        AccountMembership.objects.filter(user=user, account=account)
        .values_list("role", flat=True)
        .first()
    )


def account_get_for_user(
    *,
    user: User,
    account_id: object,
    level: AccessLevel = "view",
    for_update: bool = False,
    related: tuple[str, ...] = (),
) -> TradingAccount:
    """The account if the user may reach it at `level`.

    Not visible at all → NotFound (never leak existence); visible but not enough → 403.
    for_update: the account row locked (inside a transaction), with `related` one-to-one
    rows read in the same query — one read both checks the caller and locks the account.
    """
    try:
        accounts = TradingAccount.objects.filter(pk=account_id)
        if related:
            accounts = accounts.select_related(*related)
        if for_update:
            accounts = lock_query(accounts)
        if not user.is_oms_admin:
            # The account and the user's role on it in one query (this runs on every order):
            # joined through the user's membership (one per user and account), so an
            # account they are not a member of is no row at all.
            accounts = accounts.filter(memberships__user=user).annotate(
                member_role=F("memberships__role")
            )
        account = accounts.get()
    except (TradingAccount.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        # A malformed id is as unknown as a missing one.
        raise NotFound("Account not found.") from exc
    role = MembershipRole.OWNER if user.is_oms_admin else account.member_role
    if role not in _LEVELS[level]:
        raise PermissionDenied(_REFUSALS[level])
    return account


def account_locked_with_limits(
    *, user: User, account_id: object, level: AccessLevel = "trade"
) -> TradingAccount:
    """`account_get_for_user(for_update=True, related=("risk_limits",))`: the account row
    locked (inside a transaction) with its risk limits and the caller's role, in one query.
    Every order placement reads it: for a member it is a query compiled once."""
    if user.is_oms_admin:
        return account_get_for_user(
            user=user, account_id=account_id, level=level, for_update=True, related=("risk_limits",)
        )
    try:
        found = _LOCKED_FOR_MEMBER.instances(account_id=account_id, user_id=user.pk)
    except (ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound("Account not found.") from exc
    if not found:
        raise NotFound("Account not found.")
    account = found[0]
    if account.member_role not in _LEVELS[level]:
        raise PermissionDenied(_REFUSALS[level])
    return account


# account_locked_with_limits for a member: the account row locked, its risk limits and the
# member's role on it, in one query.
_LOCKED_FOR_MEMBER = CompiledSelect(
    lambda account_id, user_id: (
        lock_query(TradingAccount.objects.filter(pk=account_id).select_related("risk_limits"))
        .filter(memberships__user_id=user_id)
        .annotate(member_role=F("memberships__role"))
    ),
    account_id=TradingAccount._meta.pk,
    user_id=User._meta.pk,
)


def risk_limits_get(*, account: TradingAccount) -> RiskLimits:
    limits, _ = RiskLimits.objects.get_or_create(account=account)
    return limits


def account_buying_power(*, account: TradingAccount) -> Decimal:
    """Cash minus what open buy orders have committed (providers registered by orders).

    An account at a real broker: the broker's own buying power (it already holds back what
    the account's open orders need); 0 while the broker has never answered."""
    funds = registry.account_funds(account)
    if funds is not None:
        return funds.buying_power if funds.buying_power is not None else Decimal("0")
    committed = sum(
        (provider(account) for provider in registry.commitment_providers()), Decimal("0")
    )
    return account.cash - committed


def api_key_list(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user).order_by("-created_at")


def account_roles_for_user(*, user: User, account_ids: Iterable[object]) -> dict[str, str]:
    """Effective role per account id (admins: owner everywhere) in one query."""
    ids = [str(pk) for pk in account_ids]
    if user.is_oms_admin:
        return dict.fromkeys(ids, MembershipRole.OWNER)
    rows = AccountMembership.objects.filter(user=user, account_id__in=ids).values_list(
        "account_id", "role"
    )
    return {str(account_id): role for account_id, role in rows}


def account_cash(*, account: TradingAccount) -> Decimal | None:
    """The account's cash: OMS's ledger, or the broker's figure for a real-broker account
    (None while the broker has never answered)."""
    funds = registry.account_funds(account)
    return account.cash if funds is None else funds.cash


@dataclass(frozen=True)
class AccountOverview:
    account: TradingAccount
    my_role: str | None
    buying_power: Decimal  # 0 while a broker has never answered (funds says so)
    cash: Decimal | None = None
    funds: registry.AccountFunds | None = None

    @property
    def can_trade(self) -> bool:
        return self.my_role in (MembershipRole.OWNER, MembershipRole.TRADE)


def account_overview_for_user(*, user: User) -> list[AccountOverview]:
    accounts = list(account_list_for_user(user=user).select_related("connection"))
    roles = account_roles_for_user(user=user, account_ids=[a.pk for a in accounts])
    return [_overview(account, roles.get(str(account.pk))) for account in accounts]


def _overview(account: TradingAccount, role: str | None) -> AccountOverview:
    funds = registry.account_funds(account)
    if funds is None:
        return AccountOverview(
            account=account,
            my_role=role,
            buying_power=account_buying_power(account=account),
            cash=account.cash,
        )
    return AccountOverview(
        account=account,
        my_role=role,
        buying_power=funds.buying_power if funds.buying_power is not None else Decimal("0"),
        cash=funds.cash,
        funds=funds,
    )


def account_status_counts(*, overviews: Iterable[AccountOverview]) -> dict[str, int]:
    counts = dict.fromkeys(AccountStatus.values, 0)
    for overview in overviews:
        counts[overview.account.status] = counts.get(overview.account.status, 0) + 1
    return counts


def account_members(*, account: TradingAccount) -> QuerySet[AccountMembership]:
    return (
        AccountMembership.objects.filter(account=account)
        .select_related("user")
        .order_by("role", "user__username")
    )


def api_key_get_for_user(*, user: User, key_id: object) -> ApiKey:
    """The user's own key; anyone else's (or a malformed id) is NotFound."""
    try:
        return ApiKey.objects.get(pk=key_id, user=user)
    except (ApiKey.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound("API key not found.") from exc


def api_key_active_count(*, user: User) -> int:
    return (
        ApiKey.objects.filter(user=user, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .count()
    )


def broker_connection_credentials(*, connection: BrokerConnection) -> dict[str, Any]:
    """Decrypted credentials for a broker adapter. Never return them from an API or page."""
    return crypto.decrypt_credentials(connection.credentials_encrypted)


@dataclass(frozen=True)
class KillSwitchState:
    """What is halted for one user: the global switch and the accounts they see."""

    global_engaged: bool
    global_reason: str
    halted_accounts: list[str]

    @property
    def engaged(self) -> bool:
        return self.global_engaged or bool(self.halted_accounts)


def kill_switch_state_for_user(*, user: User) -> KillSwitchState:
    """The global switch and the names of the user's accounts whose own switch is on."""
    reasons = list(_engaged_kill_switch().values_list("reason", flat=True))
    halted = account_list_for_user(user=user).filter(risk_limits__kill_switch=True)
    return KillSwitchState(
        global_engaged=bool(reasons),
        global_reason=reasons[0] if reasons else "",
        halted_accounts=list(halted.values_list("name", flat=True)),
    )


@cache
def _engaged_kill_switch() -> QuerySet[GlobalKillSwitch]:
    return GlobalKillSwitch.objects.filter(pk=1, engaged=True)


# Every order placed asks it: compiled once (oms_site/compiled_query.py).
_KILL_SWITCH_ENGAGED = CompiledSelect(
    lambda: GlobalKillSwitch.objects.filter(pk=1, engaged=True).values_list("pk")[:1]
)


def global_kill_switch_engaged() -> bool:
    return bool(_KILL_SWITCH_ENGAGED.rows())
