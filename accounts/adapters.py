from allauth.account.adapter import DefaultAccountAdapter


class NoSignupAccountAdapter(DefaultAccountAdapter):
    """No open sign-up: admins create users."""

    def is_open_for_signup(self, request) -> bool:
        return False
