"""`manage.py issue_api_key USERNAME [--create] [--role ROLE] [--scope SCOPE ...]`: the raw key
is the last line. `--scope marketdata:push` issues a feed key (API.md: ticks may be pushed by
"admin or a feed key")."""

from __future__ import annotations

import argparse
import re

from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import Role, User
from oms_site.errors import ValidationFailed

_SCOPE = re.compile(r"^[a-z][a-z_]*:[a-z][a-z_]*$")


def _scope(value: str) -> str:
    if not _SCOPE.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a scope like marketdata:push")
    return value


class Command(BaseCommand):
    help = "Issue a new API key for USERNAME and print it alone on the last line of output."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--create", action="store_true", help="Create the user if it does not exist."
        )
        parser.add_argument(
            "--role",
            choices=Role.values,
            default=Role.TRADER,
            help="Role of a user created with --create (default: trader).",
        )
        parser.add_argument("--name", default="", help="A label for the key.")
        parser.add_argument(
            "--scope",
            dest="scopes",
            action="append",
            type=_scope,
            default=[],
            help="Grant a scope to the key (repeatable), e.g. marketdata:push for a feed key.",
        )

    def handle(
        self,
        *args,
        username: str,
        create: bool,
        role: str,
        name: str,
        scopes: list[str],
        **options,
    ):
        user = User.objects.filter(username=username).first()
        if user is None:
            if not create:
                raise CommandError(f"No user {username!r}; pass --create to create it.")
            try:
                user = services.user_create(username=username, role=role)
            except ValidationFailed as exc:
                raise CommandError(f"{exc.message} {exc.fields}") from exc
            self.stdout.write(f"Created user {user.username} (role {user.role}, API-only login).")
        elif not user.is_active:
            raise CommandError(f"User {username!r} is inactive.")
        issued = services.api_key_create(
            user=user, name=name or "issued by manage.py", scopes=sorted(set(scopes))
        )
        self.stdout.write(f"API key {issued.api_key.prefix}… for {user.username}:")
        self.stdout.write(issued.raw_key)
