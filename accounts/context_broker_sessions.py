"""Template context for the expired-broker-session banner every page shows (templates/base.html)
to the members of an account whose broker session (Kite's daily login) expired."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts.broker_sessions import expired_sessions_for_user


def expired_broker_sessions(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Lazy: read only where base.html asks (pages of a signed-in user); cached per user.
    return {
        "expired_broker_sessions": SimpleLazyObject(
            lambda: expired_sessions_for_user(user_id=user.pk)
        )
    }
