"""`manage.py rotate_credentials`: re-encrypt every broker credential with the primary key.

Rotate keys by prepending a new key to OMS_FERNET_KEYS (old ones stay to decrypt), running
this command, then removing the old key.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts import broker_connections
from accounts.crypto import CredentialsUnreadable


class Command(BaseCommand):
    help = "Re-encrypt every BrokerConnection's credentials with the first OMS_FERNET_KEYS key."

    def handle(self, *args, **options):
        try:
            count = broker_connections.broker_connection_rotate_all()
        except CredentialsUnreadable as exc:
            raise CommandError(f"{exc}; nothing was changed.") from exc
        self.stdout.write(f"Re-encrypted {count} broker connection(s) with the primary key.")
