"""Encryption at rest for broker credentials (MultiFernet: first key encrypts, all decrypt)."""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@lru_cache(maxsize=1)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        # Development only (production refuses to start without keys): derive a stable key
        # from SECRET_KEY so a dev database stays readable across restarts.
        digest = hashlib.sha256(f"oms-fernet:{settings.SECRET_KEY}".encode()).digest()
        keys = (base64.urlsafe_b64encode(digest).decode(),)
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured("OMS_FERNET_KEYS holds a malformed Fernet key") from exc


def current_fernet() -> MultiFernet:
    return _fernet(tuple(settings.OMS_FERNET_KEYS))


def encrypt_credentials(credentials: dict[str, Any]) -> str:
    if not credentials:
        return ""
    payload = json.dumps(credentials, sort_keys=True).encode()
    return current_fernet().encrypt(payload).decode()


class CredentialsUnreadable(Exception):
    """The stored token was made with a key that is no longer configured."""


def decrypt_credentials(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        return json.loads(current_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise CredentialsUnreadable("broker credentials cannot be decrypted") from exc


def rotate_token(token: str) -> str:
    """Re-encrypt with the primary key (after a new key was prepended)."""
    if not token:
        return token
    return current_fernet().rotate(token.encode()).decode()
