"""Kite's daily login and postbacks: what the API (execution/api_kite.py) calls.

- `kite_login_url_get`: where the user logs in to Kite (Kite then redirects to the app's
  redirect URL with a `request_token`).
- `kite_session_complete`: exchange that request token for the day's access token (stored
  encrypted with its expiry, the next 06:00 IST) → the connection's status.
- `kite_postback_apply`: an order update Kite POSTs to the app's postback URL, verified
  with SHA-256(order_id + order_timestamp + api_secret) and applied like a ticker update —
  idempotently (deterministic report ids, the order's last state kept in BrokerOrder). An
  update for an order OMS did not place is reported as external.
"""

from __future__ import annotations

import hmac
from typing import Any

from accounts.models import BrokerConnection, TradingAccount, User
from execution.adapters import kite_mapping as km
from execution.broker_config import BrokerNotConfiguredError, broker_account_config
from execution.protocol import (
    BrokerUnavailableError,
    PermanentBrokerError,
    TransientBrokerError,
)
from execution.registry import emit_reports, get_adapter
from oms_site.errors import (
    BrokerUnavailable,
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)

POSTBACK_FIELDS = ("order_id", "order_timestamp", "checksum", "status")


def _kite_adapter():
    return get_adapter(km.BROKER)


def _require_kite(account: TradingAccount) -> None:
    if account.broker != km.BROKER or account.connection_id is None:
        raise InvalidState(
            f"This account trades with {account.broker!r}; only Kite accounts log in to Kite."
        )


def broker_status_of(*, account: TradingAccount) -> dict[str, Any]:
    """The account's broker status object (API.md: {"status", "last_checked_at", "detail"})."""
    row = (
        BrokerConnection.objects.filter(pk=account.connection_id)
        .values("status", "last_checked_at", "last_error")
        .get()
    )
    return {
        "status": row["status"],
        "last_checked_at": row["last_checked_at"],
        "detail": row["last_error"],
    }


def kite_login_url_get(*, account: TradingAccount) -> str:
    _require_kite(account)
    try:
        return _kite_adapter().login_url(account_id=str(account.pk))
    except PermanentBrokerError as exc:
        raise InvalidState(str(exc)) from exc


def kite_session_complete(
    *, account: TradingAccount, request_token: str, actor: User | None
) -> dict[str, Any]:
    _require_kite(account)
    try:
        _kite_adapter().complete_login(
            account_id=str(account.pk), request_token=request_token, actor=actor
        )
    except PermanentBrokerError as exc:
        raise InvalidState(str(exc)) from exc
    return broker_status_of(account=account)


def kite_postback_apply(*, account_id: str, payload: Any) -> int:
    """Verify and apply one postback; returns how many reports it produced (0 for a repeat)."""
    if not isinstance(payload, dict) or any(
        not isinstance(payload.get(name), str | int) or payload.get(name) == ""
        for name in POSTBACK_FIELDS
    ):
        raise ValidationFailed(
            "A Kite postback is a JSON object with order_id, order_timestamp, status and checksum.",
            fields={
                name: ["Required."] for name in POSTBACK_FIELDS if not payload_has(payload, name)
            },
        )
    account = (
        TradingAccount.objects.filter(pk=account_id).first() if _uuid_like(account_id) else None
    )
    if account is None or account.broker != km.BROKER:
        raise NotFound("Account not found.")
    try:
        config = broker_account_config(account_id=str(account.pk))
    except BrokerNotConfiguredError as exc:
        raise NotFound("Account not found.") from exc
    expected = km.postback_checksum(
        order_id=str(payload["order_id"]),
        order_timestamp=str(payload["order_timestamp"]),
        api_secret=str(config.credentials.get("api_secret") or ""),
    )
    if not config.credentials.get("api_secret") or not hmac.compare_digest(
        expected, str(payload["checksum"])
    ):
        raise PermissionDenied("The postback's checksum does not match this account's api_secret.")
    try:
        reports = _kite_adapter().reports_for(account_id=str(account.pk), order=payload)
    except (TransientBrokerError, BrokerUnavailableError, PermanentBrokerError) as exc:
        # The order's trades could not be read from Kite now; nothing was applied, and the
        # stream runner's next poll applies this update.
        raise BrokerUnavailable(f"Kite could not be read to apply this postback: {exc}") from exc
    emit_reports(reports)
    return len(reports)


def payload_has(payload: Any, name: str) -> bool:
    return isinstance(payload, dict) and payload.get(name) not in (None, "")


def _uuid_like(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
