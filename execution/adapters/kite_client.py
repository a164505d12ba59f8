"""The Kite SDK client of an account, and Kite's errors in OMS's terms.

Shared by the adapter (`kite.py`) and the stream (`kite_stream.py`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests
from django.utils import timezone
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from execution.adapters import kite_mapping as km
from execution.adapters.kite_session import (
    KiteSessionExpiredError,
    session_expired_record,
    session_problem,
)
from execution.broker_config import (
    BrokerAccountConfig,
    BrokerNotConfiguredError,
    broker_account_config,
)
from execution.protocol import BrokerTimeoutError, PermanentBrokerError, TransientBrokerError

_clients = threading.local()


class KiteRefusedError(PermanentBrokerError):
    """Kite answered and refused the request (InputException, OrderException, …)."""


@contextmanager
def kite_errors(*, account_id: str, what: str) -> Iterator[None]:
    """SDK and network errors → OMS's broker errors (named transient ones are retried)."""
    try:
        yield
    except kex.TokenException as exc:
        session_expired_record(account_id=account_id, detail=str(exc))
        raise KiteSessionExpiredError(
            f"Kite session expired or refused ({exc}): log in to Kite again."
        ) from exc
    except (kex.NetworkException, kex.DataException) as exc:
        raise TransientBrokerError(f"Kite {what}: {exc} (HTTP {exc.code})") from exc
    except kex.GeneralException as exc:
        if exc.code >= 500 or exc.code == 429:
            raise TransientBrokerError(f"Kite {what}: {exc} (HTTP {exc.code})") from exc
        raise KiteRefusedError(f"Kite refused {what}: {exc}") from exc
    except kex.KiteException as exc:  # InputException, OrderException, PermissionException
        raise KiteRefusedError(f"Kite refused {what}: {exc}") from exc
    except requests.Timeout as exc:
        raise BrokerTimeoutError(f"Kite {what}: no answer in time ({exc})") from exc
    except requests.RequestException as exc:
        raise TransientBrokerError(f"Kite {what}: {exc}") from exc


def kite_root(settings: dict[str, Any]) -> str:
    root = str(settings.get("root") or KiteConnect._default_root_uri)
    parts = urlsplit(root)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise PermanentBrokerError(
            f"Kite root {root!r} must be scheme://host[:port] (the SDK drops any path)."
        )
    return root


def http_timeout(settings: dict[str, Any]) -> float:
    """Shorter than the resilience wrapper's execution timeout, so an attempt that got no
    answer has ended before the next one looks for its order."""
    if settings.get("timeout_s"):
        return float(settings["timeout_s"])
    from execution.services import broker_policy

    return max(0.5, broker_policy(broker=km.BROKER).timeout_s * 0.6)


def config_of(account_id: str) -> BrokerAccountConfig:
    try:
        config = broker_account_config(account_id=account_id)
    except BrokerNotConfiguredError as exc:
        raise PermanentBrokerError(str(exc)) from exc
    if not config.credentials.get("api_key"):
        raise PermanentBrokerError(f"Kite account {account_id} has no api_key stored.")
    return config


def client_of(config: BrokerAccountConfig) -> KiteConnect:
    """An SDK client with the account's session, or KiteSessionExpiredError (recorded)."""
    problem = session_problem(config.credentials, now=timezone.now())
    if problem:
        session_expired_record(account_id=config.account_id, detail=problem)
        raise KiteSessionExpiredError(f"{problem} Log in to Kite again.")
    key = (
        config.credentials["api_key"],
        config.credentials["access_token"],
        kite_root(config.settings),
        http_timeout(config.settings),
    )
    # One client per thread and session: its requests.Session keeps the HTTPS connection to
    # Kite open between calls (a new TLS handshake per order costs tens of milliseconds);
    # per thread because a requests.Session is not documented as thread-safe.
    clients = getattr(_clients, "by_key", None)
    if clients is None:
        clients = _clients.by_key = {}
    client = clients.get(key)
    if client is None:
        if len(clients) >= 64:
            clients.clear()  # old sessions (yesterday's tokens) go; a client is cheap to make
        client = clients[key] = KiteConnect(
            api_key=key[0], access_token=key[1], root=key[2], timeout=key[3]
        )
    return client
