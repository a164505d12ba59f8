"""Template context every page needs from accounts: whether the user may trade at all, so
menus and pages hide trading controls from someone with view-only access."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts.selectors import user_can_trade_any


def trading_access(request: HttpRequest) -> dict[str, object]:
    # Lazy: one query, and only on pages that ask (the menu of a signed-in user).
    return {"user_can_trade": SimpleLazyObject(lambda: user_can_trade_any(user=request.user))}
