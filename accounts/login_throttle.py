"""Failed sign-ins per login name, across client addresses: a slow-down, never a lock.

allauth limits failures per client address and per login name *from that address*
(ACCOUNT_RATE_LIMITS["login_failed"]). Guessing one name from many addresses is slowed here:
after OMS_LOGIN_NAME_FAILURES failures within OMS_LOGIN_NAME_WINDOW_SECS, the name takes one
attempt per OMS_LOGIN_NAME_DELAY_SECS. Its owner waits a few seconds, never five minutes.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache


def _cache_key(login: str) -> str:
    digest = hashlib.sha256(login.strip().lower().encode()).hexdigest()
    return f"login-name-failures:{digest}"


def _recent_failures(login: str, now: float) -> list[float]:
    window = settings.OMS_LOGIN_NAME_WINDOW_SECS
    return [at for at in cache.get(_cache_key(login), []) if at > now - window]


def login_name_must_wait(*, login: str) -> bool:
    """True while the name is in its delay after too many recent failures."""
    now = time.time()
    failures = _recent_failures(login, now)
    if len(failures) < settings.OMS_LOGIN_NAME_FAILURES:
        return False
    return now - max(failures) < settings.OMS_LOGIN_NAME_DELAY_SECS


def login_name_failure_record(*, login: str) -> None:
    now = time.time()
    failures = [*_recent_failures(login, now), now]
    # Only the last few matter for the decision: the list stays short under a flood.
    kept = failures[-settings.OMS_LOGIN_NAME_FAILURES :]
    cache.set(_cache_key(login), kept, timeout=settings.OMS_LOGIN_NAME_WINDOW_SECS)
