"""`manage.py issue_api_key USERNAME [--create] [--role ROLE]`: the raw key is the last line."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import Role, User
from oms_site.errors import ValidationFailed


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

    def handle(self, *args, username: str, create: bool, role: str, name: str, **options):
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
        issued = services.api_key_create(user=user, name=name or "issued by manage.py")
        self.stdout.write(f"API key {issued.api_key.prefix}… for {user.username}:")
        self.stdout.write(issued.raw_key)
