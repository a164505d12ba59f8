from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.utils.translation import gettext_lazy as _

from accounts import login_throttle


class NoSignupAccountAdapter(DefaultAccountAdapter):
    """No open sign-up: admins create users. Failed sign-ins never lock a name's owner out."""

    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "login_name_delayed": _(
            "Too many failed sign-ins for this name. Wait a few seconds and try again."
        ),
    }

    def is_open_for_signup(self, request) -> bool:
        return False

    def _get_login_attempts_cache_key(self, request, **credentials: Any) -> str:
        # allauth's per-"key" failure limit (5 in 5 minutes) is keyed by the login name alone,
        # so anyone guessing a name locked its owner out. Keyed by name *and* client address
        # it stops the guessing address only; other addresses are slowed in pre_authenticate.
        name_key = super()._get_login_attempts_cache_key(request, **credentials)
        return f"{name_key}@{self.get_client_ip(request)}"

    def pre_authenticate(self, request, **credentials: Any) -> None:
        # allauth's limits first: an address stopped on this name is told so, not to wait.
        super().pre_authenticate(request, **credentials)
        if login_throttle.login_name_must_wait(login=_login_of(credentials)):
            # A refused attempt is no failed guess: give back what allauth just counted.
            self._rollback_login_failed_rl_usage()
            raise self.validation_error("login_name_delayed")

    def authentication_failed(self, request, **credentials: Any) -> None:
        login_throttle.login_name_failure_record(login=_login_of(credentials))
        super().authentication_failed(request, **credentials)


def _login_of(credentials: dict[str, Any]) -> str:
    return credentials.get("email", credentials.get("username", "")) or ""
