"""Kite's daily login: request_token → access token (checksum), its expiry, its state.

The user opens the login URL, logs in at Kite, and Kite redirects to the app's redirect URL
with `request_token`; `complete_login` exchanges it (`POST /session/token` with
checksum = SHA-256(api_key + request_token + api_secret), done by the SDK) and stores the
access token with its expiry — the next 06:00 IST, Kite's daily reset — in the account's
encrypted credentials, through accounts' own service. After the expiry, or when Kite
answers TokenException, the connection's status is `session_expired`.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import requests
from django.utils import timezone
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from execution.adapters import kite_mapping as km
from execution.broker_config import BrokerAccountConfig, connection_status_record
from execution.protocol import ConnectionCheck, ConnectionState, PermanentBrokerError


class KiteSessionExpiredError(PermanentBrokerError):
    """No Kite session (never logged in, past the daily reset, or refused): log in again.
    `state` tells a caller that records connection states which one this is."""

    state = ConnectionState.SESSION_EXPIRED


def session_problem(credentials: dict[str, Any], *, now: datetime) -> str:
    """Why the stored session cannot be used ("" when it can)."""
    if not credentials.get("access_token"):
        return "Not logged in to Kite yet (no access token)."
    expires = credentials.get("access_token_expires_at")
    if expires:
        try:
            moment = datetime.fromisoformat(str(expires))
        except ValueError:
            return "The stored Kite session has an unreadable expiry."
        if now >= moment:
            return f"The Kite session ended at Kite's daily reset ({moment.isoformat()})."
    return ""


def session_expired_record(*, account_id: str, detail: str) -> bool:
    return connection_status_record(
        account_id=account_id,
        state=ConnectionState.SESSION_EXPIRED,
        detail=f"Kite session expired: {detail} Log in to Kite again.",
    )


def complete_login(
    *, config: BrokerAccountConfig, client: KiteConnect, request_token: str, actor: Any
) -> ConnectionCheck:
    """Exchange `request_token` for an access token and store it; the resulting status."""
    from accounts.models import BrokerConnection
    from accounts.services import broker_connection_set_credentials

    api_secret = config.credentials.get("api_secret")
    if not api_secret:
        return _result(
            config.account_id,
            0,
            "No api_secret stored for this Kite account.",
            ConnectionState.ERROR,
        )
    started = time.monotonic()
    try:
        session = client.generate_session(request_token, api_secret=api_secret)
    except (kex.TokenException, kex.InputException, kex.PermissionException) as exc:
        return _result(
            config.account_id,
            started,
            f"Kite refused the login: {exc} (check the request token, api_key and api_secret).",
            ConnectionState.ERROR,
        )
    except (kex.KiteException, requests.RequestException) as exc:
        return _result(
            config.account_id,
            started,
            f"Kite did not complete the login: {exc}",
            ConnectionState.DISCONNECTED,
        )
    now = timezone.now()
    expires = km.session_expiry(now=now)
    credentials = {
        **config.credentials,
        "access_token": session["access_token"],
        "access_token_expires_at": expires.isoformat(),
        "user_id": session.get("user_id", ""),
    }
    connection = BrokerConnection.objects.get(pk=config.connection_id)
    broker_connection_set_credentials(connection=connection, credentials=credentials, actor=actor)
    detail = (
        f"Logged in to Kite as {session.get('user_id')}; the session lasts until "
        f"{expires.strftime('%Y-%m-%d %H:%M')} IST."
    )
    return _result(config.account_id, started, detail, ConnectionState.CONNECTED)


def _result(account_id: str, started: float, detail: str, state: str) -> ConnectionCheck:
    latency = int((time.monotonic() - started) * 1000) if started else 0
    connection_status_record(account_id=account_id, state=state, detail=detail)
    return ConnectionCheck(
        ok=state == ConnectionState.CONNECTED, latency_ms=latency, detail=detail, state=state
    )
