"""Reads, and the one place that decides who may see or act on which account."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet

from accounts import registry
from accounts.models import (
    AccountMembership,
    ApiKey,
    MembershipRole,
    RiskLimits,
    TradingAccount,
    User,
)
from oms_site.errors import NotFound, PermissionDenied

AccessLevel = Literal["view", "trade", "owner"]

_LEVELS: dict[str, set[str]] = {
    "view": {MembershipRole.VIEW, MembershipRole.TRADE, MembershipRole.OWNER},
    "trade": {MembershipRole.TRADE, MembershipRole.OWNER},
    "owner": {MembershipRole.OWNER},
}


def account_list_for_user(*, user: User) -> QuerySet[TradingAccount]:
    """Every account the user may see: all for admins, memberships for everyone else."""
    qs = TradingAccount.objects.all()
    if not user.is_oms_admin:
        qs = qs.filter(memberships__user=user)
    return qs.order_by("name", "id")


def account_ids_for_user(*, user: User) -> set[str]:
    return {str(pk) for pk in account_list_for_user(user=user).values_list("id", flat=True)}


def membership_role(*, user: User, account: TradingAccount) -> str | None:
    if user.is_oms_admin:
        return MembershipRole.OWNER
    return (
        AccountMembership.objects.filter(user=user, account=account)
        .values_list("role", flat=True)
        .first()
    )


def account_get_for_user(
    *, user: User, account_id: object, level: AccessLevel = "view"
) -> TradingAccount:
    """The account if the user may reach it at `level`.

    Not visible at all → NotFound (never leak existence); visible but not enough → 403.
    """
    try:
        account = TradingAccount.objects.get(pk=account_id)
    except (TradingAccount.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        # A malformed id is as unknown as a missing one.
        raise NotFound("Account not found.") from exc
    role = membership_role(user=user, account=account)
    if role is None:
        raise NotFound("Account not found.")
    if role not in _LEVELS[level]:
        raise PermissionDenied(f"You may not {level} on this account.")
    return account


def risk_limits_get(*, account: TradingAccount) -> RiskLimits:
    limits, _ = RiskLimits.objects.get_or_create(account=account)
    return limits


def account_buying_power(*, account: TradingAccount) -> Decimal:
    """Cash minus what open buy orders have committed (providers registered by orders)."""
    committed = sum(
        (provider(account) for provider in registry.commitment_providers()), Decimal("0")
    )
    return account.cash - committed


def api_key_list(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user).order_by("-created_at")
