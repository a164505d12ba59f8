"""Writes for accounts: API keys, users, accounts, memberships, broker connections, the audit log.

Risk limits and kill switches live in `accounts/risk_services.py`. `actor=None` means the
system itself (management commands, seeding): permission checks apply to real users only.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts import crypto, registry, selectors
from accounts.broker_sessions import expired_sessions_forget
from accounts.connection_rules import connection_credentials_errors, connection_settings_errors
from accounts.models import (
    AccountMembership,
    AccountStatus,
    ApiKey,
    AuditLogEntry,
    BrokerConnection,
    ConnectionStatus,
    MembershipRole,
    RiskLimits,
    Role,
    TradingAccount,
    User,
)
from oms_site.errors import InvalidState, PermissionDenied, ValidationFailed
from oms_site.locks import lock_one, lock_rows

API_KEY_PREFIX_LEN = 8
_LAST_USED_RESOLUTION = timedelta(seconds=60)

# Every API request authenticates its key, and reading the key with its user is a query: a
# process reuses what it read for API_KEY_CACHE_SECONDS (by prefix; the whole key is still
# compared, expiry still checked on every request). Revoking through api_key_revoke takes
# effect at once in the process that revokes; anything else about a key or its user changed
# in the database (a revocation by another process, deactivation, role) reaches a process
# within API_KEY_CACHE_SECONDS.
API_KEY_CACHE_SECONDS = 2.0
_RECENT_KEYS_MAX = 10_000
_recent_keys: dict[str, tuple[float, ApiKey]] = {}


def _hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    raw_key: str  # shown once, never stored


def api_key_create(
    *,
    user: User,
    name: str = "",
    expires_at: datetime | None = None,
    scopes: list[str] | None = None,
    actor: User | None = None,
) -> IssuedApiKey:
    prefix = secrets.token_hex(API_KEY_PREFIX_LEN // 2)
    while ApiKey.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(API_KEY_PREFIX_LEN // 2)
    raw_key = f"oms_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        user=user,
        name=name,
        prefix=prefix,
        key_hash=_hash_key(raw_key),
        expires_at=expires_at,
        scopes=scopes or [],
    )
    audit_log_record(
        actor=actor or user,
        action="api_key.create",
        obj=api_key,
        data={"prefix": prefix, "name": name},
    )
    return IssuedApiKey(api_key=api_key, raw_key=raw_key)


def _api_key_recent(*, prefix: str) -> ApiKey | None:
    """The key with this prefix and its user, as this process read it at most
    API_KEY_CACHE_SECONDS ago (shared: callers hand out copies)."""
    now = time.monotonic()
    recent = _recent_keys.get(prefix)
    if recent is not None and now - recent[0] < API_KEY_CACHE_SECONDS:
        return recent[1]
    api_key = ApiKey.objects.select_related("user").filter(prefix=prefix).first()
    if api_key is None:
        _recent_keys.pop(prefix, None)
        return None
    if len(_recent_keys) >= _RECENT_KEYS_MAX:
        _recent_keys.clear()
    _recent_keys[prefix] = (now, api_key)
    return api_key


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The usable key matching `raw_key` (with its user), or None. Constant-time hash
    comparison. What the key and user say may be up to API_KEY_CACHE_SECONDS old."""
    parts = raw_key.split("_")
    if len(parts) < 3 or parts[0] != "oms":
        return None
    api_key = _api_key_recent(prefix=parts[1])
    if api_key is None or not hmac.compare_digest(api_key.key_hash, _hash_key(raw_key)):
        return None
    now = timezone.now()
    if not api_key.is_usable(now):
        return None
    # Coarse last-used time: one write a minute per key, not one per request.
    if api_key.last_used_at is None or now - api_key.last_used_at > _LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    # Each request its own copies: nothing one request sets on its key or user reaches another.
    mine = copy.copy(api_key)
    mine.user = copy.copy(api_key.user)
    mine.scopes = list(api_key.scopes or [])  # a list: shallow copies would share it
    return mine


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: User | None) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        # Refused from now on in this process; again after commit, in case a request read
        # the key in between (other processes: within API_KEY_CACHE_SECONDS).
        _recent_keys.pop(api_key.prefix, None)
        transaction.on_commit(lambda: _recent_keys.pop(api_key.prefix, None))
        audit_log_record(
            actor=actor, action="api_key.revoke", obj=api_key, data={"prefix": api_key.prefix}
        )
    return api_key


def audit_log_record(
    *, actor: User | None, action: str, obj: Any, data: dict[str, Any] | None = None
) -> AuditLogEntry:
    return AuditLogEntry.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        action=action,
        object_type=obj._meta.label_lower if hasattr(obj, "_meta") else type(obj).__name__,
        object_id=str(getattr(obj, "pk", "")),
        object_repr=str(obj)[:200],
        data=data or {},
    )


# --- Users ------------------------------------------------------------------------------
@transaction.atomic
def user_create(
    *,
    username: str,
    role: str = Role.TRADER,
    email: str = "",
    password: str | None = None,
    is_superuser: bool = False,
    actor: User | None = None,
) -> User:
    """A new login. Admins get staff access to the back office; no password → API-only user."""
    username = username.strip()
    errors: dict[str, list[str]] = {}
    if not username:
        errors["username"] = ["This field may not be blank."]
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = ["A user with that username already exists."]
    if role not in Role.values:
        errors["role"] = [f"Must be one of: {', '.join(Role.values)}."]
    if errors:
        raise ValidationFailed("The user cannot be created.", fields=errors)
    user = User(
        username=username,
        email=email,
        role=role,
        is_staff=role == Role.ADMIN or is_superuser,
        is_superuser=is_superuser,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    audit_log_record(actor=actor, action="user.create", obj=user, data={"role": role})
    return user


# --- Broker connections -----------------------------------------------------------------
def _credentials_clean(credentials: Any) -> dict[str, Any]:
    if not isinstance(credentials, dict):
        raise ValidationFailed(
            "Credentials must be a JSON object.",
            fields={"credentials": ["Must be a JSON object."]},
        )
    return credentials


@sensitive_variables("credentials")
@transaction.atomic
def broker_connection_create(
    *,
    name: str,
    broker: str,
    owner: User | None,
    credentials: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    actor: User | None = None,
) -> BrokerConnection:
    if broker not in registry.broker_kinds():
        raise ValidationFailed(
            "Unknown broker.", fields={"broker": [f"Unknown broker kind {broker!r}."]}
        )
    clean_settings, errors = connection_settings_errors(broker=broker, settings_in=settings)
    errors.update(connection_credentials_errors(broker=broker, credentials=credentials or {}))
    if errors:
        raise ValidationFailed("The broker connection is not valid.", fields=errors)
    connection = BrokerConnection.objects.create(
        name=name[:120],
        broker=broker,
        owner=owner,
        credentials_encrypted=crypto.encrypt_credentials(_credentials_clean(credentials or {})),
        settings=clean_settings,
        status=ConnectionStatus.UNKNOWN,
    )
    audit_log_record(
        actor=actor,
        action="broker_connection.create",
        obj=connection,
        data={"broker": broker, "has_credentials": connection.has_credentials},
    )
    return connection


@sensitive_variables("credentials")
@transaction.atomic
def broker_connection_set_credentials(
    *, connection: BrokerConnection, credentials: dict[str, Any], actor: User | None
) -> BrokerConnection:
    """Replace the stored credentials (encrypted with the primary key). Never audited in clear.
    The status becomes "not checked yet": an expired session's banner goes (on commit)."""
    token = crypto.encrypt_credentials(_credentials_clean(credentials))
    transaction.on_commit(lambda: expired_sessions_forget(connection_id=connection.pk))
    BrokerConnection.objects.filter(pk=connection.pk).update(
        credentials_encrypted=token, status=ConnectionStatus.UNKNOWN, last_error=""
    )
    connection.refresh_from_db()
    audit_log_record(
        actor=actor,
        action="broker_connection.credentials_set",
        obj=connection,
        data={"has_credentials": connection.has_credentials},
    )
    return connection


@transaction.atomic
def broker_connection_rotate_all(*, actor: User | None = None) -> int:
    """Re-encrypt every stored token with the primary key (after a new key was prepended).

    Raises `crypto.CredentialsUnreadable` (and rolls everything back) if a token was made with
    a key that is no longer configured.
    """
    rotated = 0
    connections = lock_rows(BrokerConnection.objects.exclude(credentials_encrypted=""))
    for connection in connections:
        try:
            token = crypto.rotate_token(connection.credentials_encrypted)
        except InvalidToken as exc:
            raise crypto.CredentialsUnreadable(
                f"broker connection {connection.pk} cannot be decrypted with the configured keys"
            ) from exc
        BrokerConnection.objects.filter(pk=connection.pk).update(credentials_encrypted=token)
        rotated += 1
    if rotated:
        AuditLogEntry.objects.create(
            actor=actor,
            action="broker_connection.rotate_all",
            object_type=BrokerConnection._meta.label_lower,
            object_id="*",
            object_repr="all broker connections",
            data={"rotated": rotated},
        )
    return rotated


# --- Trading accounts -------------------------------------------------------------------
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_MONEY_MAX = Decimal("1e16")  # MoneyField: 24 digits, 8 of them decimals


def _require_account_level(*, actor: User | None, account: TradingAccount, level: str) -> None:
    if actor is not None:
        selectors.account_get_for_user(user=actor, account_id=account.pk, level=level)


def account_fields_errors(
    *, name: str, broker: str, starting_cash: Decimal, currency: str
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["This field may not be blank."]
    elif len(name.strip()) > 120:
        errors["name"] = ["Ensure this field has no more than 120 characters."]
    kinds = registry.broker_kinds()
    if broker not in kinds:
        errors["broker"] = [f"Unknown broker kind {broker!r}; known: {', '.join(kinds)}."]
    if not isinstance(starting_cash, Decimal) or not starting_cash.is_finite():
        errors["starting_cash"] = ["A valid number is required."]
    elif starting_cash < 0:
        errors["starting_cash"] = ["Must not be negative."]
    elif starting_cash >= _MONEY_MAX or -starting_cash.as_tuple().exponent > 8:
        errors["starting_cash"] = ["Too large or too precise (max 16 digits, 8 decimals)."]
    if not _CURRENCY_RE.match(currency):
        errors["currency"] = ["A three-letter ISO code in capitals, e.g. INR."]
    return errors


EXCHANGE_BROKER = "exchange"
DEFAULT_EXCHANGE_MAX_STARTING_CASH = Decimal("10000000")


def exchange_max_starting_cash() -> Decimal:
    """The most starting cash a non-admin may give a new account on the internal exchange
    (settings.OMS_EXCHANGE_MAX_STARTING_CASH)."""
    value = getattr(settings, "OMS_EXCHANGE_MAX_STARTING_CASH", None)
    return DEFAULT_EXCHANGE_MAX_STARTING_CASH if value is None else Decimal(str(value))


def require_exchange_cash_allowed(
    *, actor: User | None, broker: str, starting_cash: Decimal
) -> None:
    """The internal exchange is ONE venue shared by every exchange account: the cash an
    account brings is how much of everyone else's resting liquidity it can take (or how far it
    can push the price). So that is a back-office decision: admins (and system seeders, actor
    None) choose any amount; everyone else up to the admin-set limit. Paper accounts trade
    against the quote, alone, and are not limited."""
    if actor is None or actor.is_oms_admin or broker != EXCHANGE_BROKER:
        return
    limit = exchange_max_starting_cash()
    if starting_cash > limit:
        shown = f"{limit.normalize():,f}"
        raise PermissionDenied(
            f"Only an administrator may open an exchange account with more than {shown} "
            "starting cash.",
            fields={"starting_cash": [f"At most {shown} for an exchange account."]},
        )


def can_open_accounts(*, user: User) -> bool:
    return user.is_oms_admin or user.role == Role.TRADER


def require_can_open_accounts(*, actor: User | None) -> None:
    if actor is not None and not can_open_accounts(user=actor):
        raise PermissionDenied("Only admins and traders may open trading accounts.")


@sensitive_variables("credentials")
def _account_input_check(
    *,
    name: str,
    broker: str,
    starting_cash: Decimal | None,
    currency: str,
    credentials: Any,
    settings: Any,
    connection: BrokerConnection | None,
) -> dict[str, Any]:
    """Raise ValidationFailed naming every bad field of a new account; returns the settings
    of a real broker's new connection (its defaults filled in)."""
    spec = registry.broker_connection_spec(broker)
    errors = account_fields_errors(
        name=name,
        broker=broker,
        starting_cash=Decimal("0") if starting_cash is None else starting_cash,
        currency=currency,
    )
    if starting_cash is None and spec is None:
        errors["starting_cash"] = ["This field is required."]
    if credentials is not None and not isinstance(credentials, dict):
        errors["credentials"] = ["Must be a JSON object."]
    if connection is not None and connection.broker != broker:
        errors["connection"] = [f"This connection is for {connection.broker!r}, not {broker!r}."]
    clean_settings: dict[str, Any] = {}
    if spec is not None and connection is None and "broker" not in errors:
        clean_settings, setting_errors = connection_settings_errors(
            broker=broker, settings_in=settings
        )
        errors.update(setting_errors)
        errors.update(connection_credentials_errors(broker=broker, credentials=credentials or {}))
    elif settings:
        errors["settings"] = [f"A {broker} account takes no settings."]
    if errors:
        raise ValidationFailed("The account cannot be created.", fields=errors)
    return clean_settings


@sensitive_variables("credentials")
@transaction.atomic
def account_create(
    *,
    actor: User | None,
    name: str,
    broker: str,
    starting_cash: Decimal | None = None,
    currency: str | None = None,
    credentials: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    owner: User | None = None,
    connection: BrokerConnection | None = None,
) -> TradingAccount:
    """A new trading account with its owner membership, default risk limits and audit entry.

    Admins and traders may create accounts (the creator becomes the owner unless `owner` is
    given); dealers and viewers may not. Credentials, if any, go into a new BrokerConnection.
    A real broker (one with a registered connection spec: alpaca, kite) needs its credential
    keys and takes its settings (base URLs, defaults filled in); its cash comes from the
    broker, so `starting_cash` is optional (0) and the currency defaults to the broker's.
    """
    require_can_open_accounts(actor=actor)
    owner = owner or actor
    if owner is None:
        raise ValueError("account_create needs an owner when there is no actor")
    spec = registry.broker_connection_spec(broker)
    currency = currency or (spec.currency if spec else "INR")
    clean_settings = _account_input_check(
        name=name,
        broker=broker,
        starting_cash=starting_cash,
        currency=currency,
        credentials=credentials,
        settings=settings,
        connection=connection,
    )
    starting_cash = starting_cash or Decimal("0")
    require_exchange_cash_allowed(actor=actor, broker=broker, starting_cash=starting_cash)
    name = name.strip()
    if (credentials or spec is not None) and connection is None:
        connection = broker_connection_create(
            name=f"{name} ({broker})",
            broker=broker,
            owner=owner,
            credentials=credentials,
            settings=clean_settings,
            actor=actor,
        )
    account = TradingAccount.objects.create(
        name=name,
        broker=broker,
        connection=connection,
        currency=currency,
        starting_cash=starting_cash,
        cash=starting_cash,
        created_by=actor,
    )
    AccountMembership.objects.create(user=owner, account=account, role=MembershipRole.OWNER)
    RiskLimits.objects.create(account=account)
    audit_log_record(
        actor=actor,
        action="account.create",
        obj=account,
        data={
            "broker": broker,
            "currency": currency,
            "starting_cash": str(starting_cash),
            "owner": str(owner.pk),
            "connection": str(connection.pk) if connection else None,
        },
    )
    return account


@transaction.atomic
def account_set_status(
    *, actor: User | None, account: TradingAccount, status: str, reason: str = ""
) -> TradingAccount:
    """The one lifecycle function for account status (table: models.ACCOUNT_STATUS_TRANSITIONS).

    Setting the current status again is a no-op. Closed is final (409 invalid_state);
    reactivating a suspended account is admin-only (403).
    """
    if status not in AccountStatus.values:
        raise ValidationFailed(
            "Unknown status.",
            fields={"status": [f"Must be one of: {', '.join(AccountStatus.values)}."]},
        )
    locked = lock_one(TradingAccount.objects.all(), pk=account.pk)
    if locked.status == status:
        return locked
    if not locked.can_transition_to(status):
        raise InvalidState(f"A {locked.status} account cannot become {status}.")
    if status == AccountStatus.ACTIVE and actor is not None and not actor.is_oms_admin:
        raise PermissionDenied("Only an admin may reactivate an account.")
    old = locked.status
    locked.status = status
    locked.save(update_fields=["status", "updated_at"])
    audit_log_record(
        actor=actor,
        action="account.status",
        obj=locked,
        data={"old": old, "new": status, "reason": reason},
    )
    return locked


@transaction.atomic
def account_update(
    *,
    actor: User | None,
    account: TradingAccount,
    name: str | None = None,
    status: str | None = None,
) -> TradingAccount:
    """Rename and/or change the status of an account (owners and admins)."""
    _require_account_level(actor=actor, account=account, level="owner")
    account = lock_one(TradingAccount.objects.all(), pk=account.pk)
    if name is not None:
        new_name = name.strip()
        if not new_name or len(new_name) > 120:
            raise ValidationFailed(
                "The name is not valid.",
                fields={"name": ["Between 1 and 120 characters, not only spaces."]},
            )
        if new_name != account.name:
            old = account.name
            account.name = new_name
            account.save(update_fields=["name", "updated_at"])
            audit_log_record(
                actor=actor,
                action="account.rename",
                obj=account,
                data={"old": old, "new": new_name},
            )
    if status is not None:
        account = account_set_status(actor=actor, account=account, status=status)
    return account


# --- Memberships ------------------------------------------------------------------------
@transaction.atomic
def membership_set(
    *, actor: User | None, account: TradingAccount, user: User, role: str
) -> AccountMembership:
    """Give `user` `role` on `account` (owners and admins). Idempotent."""
    if role not in MembershipRole.values:
        raise ValidationFailed(
            "Unknown role.",
            fields={"role": [f"Must be one of: {', '.join(MembershipRole.values)}."]},
        )
    _require_account_level(actor=actor, account=account, level="owner")
    membership = AccountMembership.objects.filter(user=user, account=account).first()
    if membership is not None and membership.role == role:
        return membership
    old = membership.role if membership else None
    try:
        with transaction.atomic():
            membership, _ = AccountMembership.objects.update_or_create(
                user=user, account=account, defaults={"role": role}
            )
    except IntegrityError as exc:  # a concurrent insert of the same pair
        raise InvalidState("The membership changed meanwhile; try again.") from exc
    audit_log_record(
        actor=actor,
        action="membership.set",
        obj=membership,
        data={"user": str(user.pk), "account": str(account.pk), "old": old, "new": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, actor: User | None, membership: AccountMembership) -> None:
    _require_account_level(actor=actor, account=membership.account, level="owner")
    audit_log_record(
        actor=actor,
        action="membership.remove",
        obj=membership,
        data={
            "user": str(membership.user_id),
            "account": str(membership.account_id),
            "role": membership.role,
        },
    )
    membership.delete()
