"""WebSocket authentication: a browser session, or an API key.

The key comes from `?token=<key>` (browsers cannot set headers on a WebSocket) or from an
`Authorization: Token <key>` header (preferred for programs: query strings end up in access
logs). When a key is given it decides alone: a bad key is anonymous even with a session.
Origin (`StreamOriginValidator`): checked for session connections only.
`scope["oms_auth"]` records how the user got in, so the consumer can re-check it later
(logout, revoked key, deactivated user end the stream at the next heartbeat).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import AllowedHostsOriginValidator
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from accounts.models import ApiKey, User
from accounts.services import api_key_authenticate
from notifications.selectors import stream_access_for_users
from notifications.stream import StreamAccess, normalize_id

AUTH_API_KEY = "api_key"
AUTH_SESSION = "session"
AUTH_INVALID_KEY = "invalid_api_key"


def api_key_from_scope(scope: dict[str, Any]) -> str | None:
    """The raw API key offered by the client, if any (header first, then ?token=)."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"authorization":
            parts = value.decode("latin-1").split()
            if len(parts) == 2 and parts[0].lower() == "token":
                return parts[1]
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    tokens = query.get("token")
    if tokens and tokens[0]:
        return tokens[0]
    return None


def _user_for_key(raw_key: str) -> tuple[User | None, str | None]:
    api_key = api_key_authenticate(raw_key=raw_key)
    if api_key is None or not api_key.user.is_active:
        return None, None
    return api_key.user, str(api_key.pk)


class ApiKeyAuthMiddleware(BaseMiddleware):
    """Runs inside AuthMiddleware: replaces the session user when a key is offered."""

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        raw_key = api_key_from_scope(scope)
        if raw_key is None:
            session = scope.get("session")
            scope["oms_auth"] = {
                "method": AUTH_SESSION,
                "session_key": getattr(session, "session_key", None),
            }
        else:
            user, key_id = await database_sync_to_async(_user_for_key)(raw_key)
            if user is None:
                scope["user"] = AnonymousUser()
                scope["oms_auth"] = {"method": AUTH_INVALID_KEY}
            else:
                scope["user"] = user
                scope["oms_auth"] = {"method": AUTH_API_KEY, "key_id": key_id}
        return await super().__call__(scope, receive, send)


class _KeyOrSession:
    """A connection that offers a key skips the cookie and session layers altogether (the
    key decides alone, and each of its sends would otherwise pass through them)."""

    def __init__(self, inner) -> None:
        self.by_key = ApiKeyAuthMiddleware(inner)
        self.by_session = AuthMiddlewareStack(self.by_key)

    async def __call__(self, scope, receive, send):
        app = self.by_key if api_key_from_scope(scope) is not None else self.by_session
        return await app(scope, receive, send)


def ApiKeyOrSessionAuthMiddlewareStack(inner):  # named like Channels' AuthMiddlewareStack
    return _KeyOrSession(inner)


class StreamOriginValidator:
    """The Origin rule of /ws/stream/: a connection that offers an API key is let through
    whatever its Origin (programs send none; the key alone decides who it is, so another
    site cannot ride a visitor's cookie through it), one without a key rides the session
    cookie and must come from one of the site's own hosts (a missing or foreign Origin is
    refused with 403: cross-site WebSocket hijacking). One with neither is let through to
    be told `not_authenticated` and closed with 4401."""

    def __init__(self, application) -> None:
        self.application = application
        self.session_checked = AllowedHostsOriginValidator(application)

    async def __call__(self, scope, receive, send):
        if api_key_from_scope(scope) is not None or not _offers_session_cookie(scope):
            # No ambient credential to hijack: a key decides alone, and a connection with
            # neither key nor session is told `not_authenticated` (4401) by the consumer.
            return await self.application(scope, receive, send)
        return await self.session_checked(scope, receive, send)


def _offers_session_cookie(scope: dict[str, Any]) -> bool:
    cookie_name = settings.SESSION_COOKIE_NAME.encode()
    for name, value in scope.get("headers", ()):
        if name.lower() == b"cookie":
            for part in value.split(b";"):
                if part.strip().split(b"=", 1)[0] == cookie_name:
                    return True
    return False


def _session_still_valid(*, session_key: str | None, user: User) -> bool:
    if not session_key:
        return False
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if str(store.get(SESSION_KEY)) != str(user.pk):
        return False  # logged out, expired, or someone else now
    stored_hash = store.get(HASH_SESSION_KEY)
    return bool(stored_hash) and constant_time_compare(stored_hash, user.get_session_auth_hash())


def still_authenticated(*, auth: dict[str, Any], user_id: object) -> User | None:
    """The fresh user if the credentials the stream was opened with are still good."""
    return still_authenticated_many(checks=[(auth, user_id)])[0]


def still_authenticated_many(*, checks: list[tuple[dict[str, Any], object]]) -> list[User | None]:
    """`still_authenticated` for many streams: two queries (users, API keys) for all of
    them, plus a session read per session-cookie stream."""
    users = {
        str(user.pk): user
        for user in User.objects.filter(pk__in={user_id for _, user_id in checks}, is_active=True)
    }
    key_ids = [auth.get("key_id") for auth, _ in checks if auth.get("method") == AUTH_API_KEY]
    keys = {str(key.pk): key for key in ApiKey.objects.filter(pk__in=key_ids)} if key_ids else {}
    now = timezone.now()
    out: list[User | None] = []
    for auth, user_id in checks:
        user = users.get(str(user_id))
        method = auth.get("method")
        valid = False
        if user is not None and method == AUTH_API_KEY:
            key = keys.get(str(auth.get("key_id")))
            valid = key is not None and key.user_id == user.pk and key.is_usable(now)
        elif user is not None and method == AUTH_SESSION:
            valid = _session_still_valid(session_key=auth.get("session_key"), user=user)
        out.append(user if valid else None)
    return out


def stream_access_recheck(
    *, checks: list[tuple[dict[str, Any], object]]
) -> list[StreamAccess | None]:
    """For each (auth, user id) of a live stream: what it may see now, or None when its
    credentials no longer hold (logged out, key revoked or expired, user deactivated)."""
    users = still_authenticated_many(checks=checks)
    access = stream_access_for_users(users=[user for user in users if user is not None])
    return [None if user is None else access[normalize_id(user.pk)] for user in users]
