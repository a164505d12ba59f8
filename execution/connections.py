"""The connection lifecycle of accounts at real brokers (alpaca, kite, … — any adapter that
implements `ConnectedBrokerAdapter`): the status the API and pages show, the connection test,
the one writer of a connection's state that tells people on a change, the reaction to a
broker's circuit breaker, and the broker's cash and buying power (briefly cached).

Paper and exchange accounts trade inside OMS: their status is "connected" (internal venue)
unless their circuit breaker is open, and their money is OMS's own ledger.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.cache import cache
from django.utils import timezone

from accounts.crypto import CredentialsUnreadable
from accounts.models import BrokerConnection, ConnectionStatus, TradingAccount
from accounts.registry import AccountFunds, broker_connection_spec
from execution.broker_config import BrokerNotConfiguredError, connection_status_record
from execution.protocol import (
    BrokerFunds,
    BrokerUnavailableError,
    ConnectedBrokerAdapter,
    ConnectionCheck,
    ConnectionState,
    PermanentBrokerError,
    TransientBrokerError,
)
from execution.registry import get_adapter
from execution.resilience import BreakerState
from execution.services import broker_caller

logger = logging.getLogger(__name__)

FUNDS_FRESH_S = 10  # a broker's cash is asked at most this often per account
FUNDS_ERROR_HOLD_S = 5  # after a failed ask, wait this long before asking again
FUNDS_KEEP_S = 7 * 24 * 3600  # the last known figures, shown (with their age) on errors

# How a stored ConnectionStatus reads in the API (API.md has four states).
_STORED_TO_API: dict[str, tuple[str, str]] = {
    ConnectionStatus.UNKNOWN: (
        ConnectionState.DISCONNECTED,
        "Not checked yet: run the connection test.",
    ),
    ConnectionStatus.NOT_REQUIRED: (ConnectionState.CONNECTED, ""),
    ConnectionStatus.DISABLED: (ConnectionState.DISCONNECTED, "The connection is disabled."),
}

_connected_kinds: dict[str, tuple[object, bool]] = {}


def connected_adapter(broker: str) -> ConnectedBrokerAdapter | None:
    """The adapter of `broker` when it is a real, connected broker; None for internal venues
    (paper, exchange) and kinds without an adapter."""
    try:
        adapter = get_adapter(broker)
    except LookupError:
        return None
    known = _connected_kinds.get(broker)
    if known is None or known[0] is not adapter:  # re-registered (tests): look again
        known = _connected_kinds[broker] = (adapter, isinstance(adapter, ConnectedBrokerAdapter))
    return adapter if known[1] else None  # type: ignore[return-value]


def _title(broker: str) -> str:
    spec = broker_connection_spec(broker)
    return spec.title if spec is not None else broker


def _breaker_open(broker: str, account_id: str) -> bool:
    caller = broker_caller(broker=broker, account_id=account_id)
    return caller.breaker.state == BreakerState.OPEN


# --- Status ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BrokerStatus:
    status: str  # a ConnectionState
    last_checked_at: datetime | None
    detail: str


def broker_status_get(*, account: TradingAccount) -> BrokerStatus:
    """What `GET /api/v1/accounts/{id}/broker` answers (see README § Real brokers)."""
    breaker_open = _breaker_open(account.broker, str(account.pk))
    breaker_detail = "Calls failed repeatedly (circuit breaker open); waiting for it to answer."
    if connected_adapter(account.broker) is None:
        try:
            get_adapter(account.broker)
        except LookupError:
            return BrokerStatus(
                ConnectionState.ERROR, None, f"No adapter for {account.broker!r} is installed."
            )
        if breaker_open:
            return BrokerStatus(ConnectionState.DISCONNECTED, None, breaker_detail)
        return BrokerStatus(
            ConnectionState.CONNECTED, None, f"Internal venue ({account.broker}): always on."
        )
    connection = BrokerConnection.objects.filter(accounts=account).first()
    if connection is None:
        return BrokerStatus(ConnectionState.ERROR, None, "No broker connection is set up.")
    status, default_detail = _STORED_TO_API.get(connection.status, (connection.status, ""))
    detail = connection.last_error or default_detail
    if status == ConnectionState.CONNECTED and breaker_open:
        status, detail = ConnectionState.DISCONNECTED, breaker_detail
    if status == ConnectionState.CONNECTED and not detail:
        detail = f"{_title(account.broker)} answers."
    return BrokerStatus(status, connection.last_checked_at, detail)


def connection_state_set(
    *, account_id: str, state: str, detail: str, only_from: tuple[str, ...] | None = None
) -> bool:
    """The one writer of an account's connection state that tells people: records it
    (last checked now) and, when the state changed, tells the account's members through
    `broker_status_changed` (notifications: broker.status_changed) — once per change.
    (`execution.broker_config.connection_status_record`, which adapters call, is this.)"""
    if state not in ConnectionState.ALL:
        raise ValueError(f"unknown connection state {state!r}")
    return connection_status_record(
        account_id=str(account_id), state=state, detail=detail, only_from=only_from
    )


def on_account_breaker(*, broker: str, account_id: str, status: str, detail: str) -> None:
    """Listener of one account's circuit breaker (real brokers): open → the account is
    `disconnected` until a call succeeds, then `connected` again; an account refused for its
    own reason (`error`, `session_expired`) keeps saying so. One notification per change."""
    if connected_adapter(broker) is None:
        return
    try:
        if status == ConnectionState.DISCONNECTED:
            connection_state_set(
                account_id=account_id,
                state=ConnectionState.DISCONNECTED,
                detail=f"{_title(broker)} is not answering: {detail}",
                only_from=(ConnectionStatus.CONNECTED, ConnectionStatus.UNKNOWN),
            )
        elif status == ConnectionState.CONNECTED:
            connection_state_set(
                account_id=account_id,
                state=ConnectionState.CONNECTED,
                detail=f"{_title(broker)} answers again.",
                only_from=(ConnectionStatus.DISCONNECTED,),
            )
    except BrokerNotConfiguredError:
        logger.info("account %s has no broker connection: breaker state not recorded", account_id)


def on_broker_kind_status(
    *, broker: str, status: str, detail: str, account_id: str | None = None
) -> None:
    """Listener of the kind-wide breaker event: an open breaker makes the broker's connected
    (or never checked) accounts `disconnected` until a call succeeds, then the disconnected
    ones `connected` again; `error` and `session_expired` stay (their cause is the account's).
    People are told by the kind-wide notification, not once more here."""
    if account_id is not None or connected_adapter(broker) is None:
        return
    now = timezone.now()
    connections = BrokerConnection.objects.filter(accounts__broker=broker)
    if status == ConnectionState.DISCONNECTED:
        # An account refused for its own reason (wrong key, expired session) keeps saying so.
        connections.filter(
            status__in=(ConnectionStatus.CONNECTED, ConnectionStatus.UNKNOWN)
        ).update(status=ConnectionStatus.DISCONNECTED, last_error=detail[:500], last_checked_at=now)
    elif status == ConnectionState.CONNECTED:
        connections.filter(status=ConnectionStatus.DISCONNECTED).update(
            status=ConnectionStatus.CONNECTED, last_error="", last_checked_at=now
        )


# --- The connection test ------------------------------------------------------------------
def connection_test(*, account: TradingAccount) -> ConnectionCheck:
    """Ask the broker whether it answers with these credentials (`POST …/broker/test`), record
    the state it implies and tell people on a change. Never raises for a broker's answer."""
    adapter = connected_adapter(account.broker)
    if adapter is None:
        return ConnectionCheck(
            ok=True,
            latency_ms=0,
            detail=f"Internal venue ({account.broker}): nothing to connect to.",
            state=ConnectionState.CONNECTED,
        )
    if account.connection_id is None:
        return ConnectionCheck(False, 0, "No broker connection is set up.", ConnectionState.ERROR)
    check = _check(adapter, account)
    connection_state_set(account_id=str(account.pk), state=check.state, detail=check.detail)
    return check


class _NoAnswer(TransientBrokerError):
    """A connection test the broker did not answer (the adapter said `disconnected`)."""

    def __init__(self, check: ConnectionCheck) -> None:
        super().__init__(check.detail)
        self.check = check


def _check(adapter: ConnectedBrokerAdapter, account: TradingAccount) -> ConnectionCheck:
    title = _title(account.broker)
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    def attempt() -> ConnectionCheck:
        check = adapter.check_connection(account_id=str(account.pk))
        if check.state == ConnectionState.DISCONNECTED:
            raise _NoAnswer(check)  # counts against the account's breaker like any call
        return check

    try:
        return broker_caller(broker=account.broker, account_id=str(account.pk)).call(
            attempt, what="connection test", attempts=1
        )
    except BrokerUnavailableError as exc:
        if isinstance(exc.__cause__, _NoAnswer):
            return exc.__cause__.check  # the adapter's own words
        return ConnectionCheck(
            False, elapsed(), f"{title} is not answering: {exc}", ConnectionState.DISCONNECTED
        )
    except PermanentBrokerError as exc:
        return ConnectionCheck(False, elapsed(), f"{title} refused: {exc}", ConnectionState.ERROR)
    except (BrokerNotConfiguredError, CredentialsUnreadable) as exc:
        return ConnectionCheck(
            False, elapsed(), f"The stored credentials cannot be used: {exc}", ConnectionState.ERROR
        )
    except Exception as exc:
        logger.exception("Connection test of account %s failed unexpectedly", account.pk)
        return ConnectionCheck(
            False,
            elapsed(),
            f"The connection test failed unexpectedly ({type(exc).__name__}); see the logs.",
            ConnectionState.ERROR,
        )


# --- Funds ----------------------------------------------------------------------------------
def _funds_keys(account_id: object) -> tuple[str, str, str]:
    base = f"exec:funds:{account_id}"
    return f"{base}:fresh", f"{base}:last", f"{base}:error"


def _funds_of(value: dict, *, error: str = "") -> AccountFunds:
    return AccountFunds(
        cash=Decimal(value["cash"]),
        buying_power=Decimal(value["buying_power"]),
        as_of=datetime.fromisoformat(value["as_of"]),
        error=error,
    )


def account_funds(account: TradingAccount) -> AccountFunds | None:
    """Cash and buying power of a real-broker account as the broker states them, at most
    FUNDS_FRESH_S old; on a broker error the last known figures with their age, or none with
    the error in words. None for accounts whose money OMS keeps (the accounts.registry
    funds provider)."""
    adapter = connected_adapter(account.broker)
    if adapter is None:
        return None
    fresh_key, last_key, error_key = _funds_keys(account.pk)
    values = cache.get_many([fresh_key, last_key, error_key])
    if fresh_key in values:
        return _funds_of(values[fresh_key])
    error = values.get(error_key)
    if error is None:
        try:
            funds = _ask_funds(adapter, account)
        except _FundsError as exc:
            error = str(exc)
            cache.set(error_key, error, FUNDS_ERROR_HOLD_S)
        else:
            value = {
                "cash": str(funds.cash),
                "buying_power": str(funds.buying_power),
                "as_of": timezone.now().isoformat(),
            }
            cache.set(fresh_key, value, FUNDS_FRESH_S)
            cache.set(last_key, value, FUNDS_KEEP_S)
            return _funds_of(value)
    last = values.get(last_key)
    if last is None:
        return AccountFunds(cash=None, buying_power=None, as_of=None, error=error)
    shown = _funds_of(last)
    age = _age_words(timezone.now() - shown.as_of)
    return _funds_of(last, error=f"{error} Showing the figures of {age} ago.")


class _FundsError(Exception):
    pass


def _ask_funds(adapter: ConnectedBrokerAdapter, account: TradingAccount) -> BrokerFunds:
    title = _title(account.broker)
    try:
        return broker_caller(broker=account.broker, account_id=str(account.pk)).call(
            lambda: adapter.funds(account_id=str(account.pk)), what="funds"
        )
    except BrokerUnavailableError as exc:
        raise _FundsError(f"{title} is not answering ({exc}).") from exc
    except PermanentBrokerError as exc:
        raise _FundsError(f"{title} refused to give the account's funds ({exc}).") from exc
    except (BrokerNotConfiguredError, CredentialsUnreadable) as exc:
        raise _FundsError(f"The stored credentials cannot be used ({exc}).") from exc
    except Exception as exc:
        logger.exception("Funds of account %s could not be read", account.pk)
        raise _FundsError(f"{title}'s funds could not be read ({type(exc).__name__}).") from exc


def _age_words(delta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
