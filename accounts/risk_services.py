"""Writes for pre-trade risk settings: per-account limits and both kill switches (admins only).

`risk_limits_clean` is a pure function (no database) shared by the API, the pages and the
admin, so every entry point applies the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import GlobalKillSwitch, RiskLimits, TradingAccount, User
from accounts.registry import KILL_SWITCH_LISTENERS
from accounts.services import audit_log_record
from oms_site.api import format_decimal
from oms_site.errors import PermissionDenied, ValidationFailed
from oms_site.locks import lock_one, locking
from oms_site.parsing import decimal_from_input

# Field → (max digits, decimal places) of the model column.
_DECIMAL_LIMITS: dict[str, tuple[int, int]] = {
    "max_order_value": (24, 8),
    "max_order_qty": (20, 8),
    "max_daily_loss": (24, 8),
    "price_band_pct": (7, 3),
}
_INT_LIMITS = ("max_open_orders", "max_orders_per_day", "max_orders_per_minute")
_BOOL_FLAGS = ("allow_short", "kill_switch")
INT_LIMIT_MAX = 2_147_483_647  # fits every database's positive integer column
_SYMBOL_MAX_LEN = 32

RISK_LIMIT_FIELDS: tuple[str, ...] = (
    "max_order_value",
    "max_order_qty",
    "max_open_orders",
    "max_orders_per_day",
    "max_daily_loss",
    "price_band_pct",
    "allowed_symbols",
    "allow_short",
    "kill_switch",
    "max_orders_per_minute",
)


def _clean_decimal(field: str, value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool | float):
        raise ValueError("A decimal number (string or integer) is required.")
    number = decimal_from_input(value)  # an InputError is a ValueError with the reason
    if number < 0:
        raise ValueError("Must not be negative.")
    max_digits, places = _DECIMAL_LIMITS[field]
    if -number.as_tuple().exponent > places:
        raise ValueError(f"At most {places} decimal places.")
    if number >= Decimal(10) ** (max_digits - places):
        raise ValueError("Too large.")
    if field == "price_band_pct" and number > 100:
        raise ValueError("Must be between 0 and 100.")
    return number


def _clean_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("A whole number is required.")
    if value < 0:
        raise ValueError("Must not be negative.")
    if value > INT_LIMIT_MAX:
        raise ValueError("Too large.")
    return value


def _clean_symbols(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise ValueError("A list of symbols or null is required.")
    symbols: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ValueError("Every symbol must be a non-empty string.")
        symbol = item.strip().upper()
        if len(symbol) > _SYMBOL_MAX_LEN:
            raise ValueError(f"Symbols have at most {_SYMBOL_MAX_LEN} characters.")
        if symbol not in symbols:
            symbols.append(symbol)
    return symbols


def risk_limits_clean(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Validated, normalised copy of `changes`; ValidationFailed naming every bad field."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for field, value in changes.items():
        try:
            if field in _DECIMAL_LIMITS:
                cleaned[field] = _clean_decimal(field, value)
            elif field in _INT_LIMITS:
                cleaned[field] = _clean_int(value)
            elif field == "allowed_symbols":
                cleaned[field] = _clean_symbols(value)
            elif field in _BOOL_FLAGS:
                if not isinstance(value, bool):
                    raise ValueError("Must be true or false.")
                cleaned[field] = value
            else:
                raise ValueError("Unknown risk limit.")
        except ValueError as exc:
            errors[field] = [str(exc)]
    if errors:
        raise ValidationFailed("The risk limits are not valid.", fields=errors)
    return cleaned


def _audit_value(value: Any) -> Any:
    return format_decimal(value) if isinstance(value, Decimal) else value


def require_risk_admin(*, actor: User | None) -> None:
    if actor is not None and not actor.is_oms_admin:
        raise PermissionDenied("Only admins may change risk limits and kill switches.")


@transaction.atomic
def risk_limits_update(
    *,
    actor: User | None,
    account: TradingAccount,
    changes: Mapping[str, Any],
    audit_action: str = "risk_limits.update",
) -> RiskLimits:
    """Apply `changes` (admins only); the audit entry records old → new of what changed."""
    require_risk_admin(actor=actor)
    cleaned = risk_limits_clean(changes)
    RiskLimits.objects.get_or_create(account=account)
    limits = locking(RiskLimits.objects.filter(account=account)).get()
    diff: dict[str, dict[str, Any]] = {}
    for field, new in cleaned.items():
        old = getattr(limits, field)
        if old != new:
            diff[field] = {"old": _audit_value(old), "new": _audit_value(new)}
            setattr(limits, field, new)
    if diff:
        limits.save(update_fields=[*diff, "updated_at"])
        audit_log_record(actor=actor, action=audit_action, obj=limits, data={"changes": diff})
        if "kill_switch" in diff:
            KILL_SWITCH_LISTENERS.call_all(
                account=account, engaged=limits.kill_switch, actor=actor, reason=""
            )
    return limits


def account_kill_switch_set(
    *, actor: User | None, account: TradingAccount, engaged: bool
) -> RiskLimits:
    """Stop (or allow again) every new order of one account."""
    return risk_limits_update(
        actor=actor,
        account=account,
        changes={"kill_switch": engaged},
        audit_action="kill_switch.engage" if engaged else "kill_switch.release",
    )


@transaction.atomic
def global_kill_switch_set(
    *, actor: User | None, engaged: bool, reason: str = ""
) -> GlobalKillSwitch:
    """Stop (or allow again) every new order of every account."""
    require_risk_admin(actor=actor)
    GlobalKillSwitch.load()
    switch = lock_one(GlobalKillSwitch.objects.all(), pk=1)
    if switch.engaged == engaged and switch.reason == reason:
        return switch
    old = switch.engaged
    switch.engaged = engaged
    switch.reason = reason[:300]
    switch.changed_at = timezone.now()
    switch.changed_by = actor
    switch.save()
    audit_log_record(
        actor=actor,
        action="global_kill_switch.engage" if engaged else "global_kill_switch.release",
        obj=switch,
        data={"old": old, "new": engaged, "reason": switch.reason},
    )
    if old != engaged:
        KILL_SWITCH_LISTENERS.call_all(
            account=None, engaged=engaged, actor=actor, reason=switch.reason
        )
    return switch
