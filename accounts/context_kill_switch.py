"""Template context for the kill-switch banner every page shows (templates/base.html) while
the global switch or the switch of an account the user sees is engaged."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts.selectors import kill_switch_state_for_user


def kill_switch(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Lazy: read only where base.html asks (pages of a signed-in user).
    return {"kill_switch": SimpleLazyObject(lambda: kill_switch_state_for_user(user=user))}
