"""`manage.py seed_demo`: idempotent demo users, accounts, then every registered demo seeder."""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand

from accounts import registry
from accounts.demo import DEMO_USERS, demo_seed_accounts

DEFAULT_DEMO_PASSWORD = "demo-pass-123"


class Command(BaseCommand):
    help = "Create (or bring back) the demo users, accounts and data. Safe to run repeatedly."

    def handle(self, *args, **options):
        password = os.environ.get("OMS_DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD
        result = demo_seed_accounts(password=password)
        self.stdout.write(
            f"Users: {len(result.users)} ({result.created_users} new); "
            f"accounts: {len(result.accounts)} ({result.created_accounts} new)."
        )
        for name, seeder in registry.demo_seeders():
            summary = seeder()
            self.stdout.write(f"{name}: {summary if isinstance(summary, str) else 'done'}")
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("Demo logins (username / password):"))
        for spec in DEMO_USERS:
            self.stdout.write(f"  {spec.username:<10} {password}   {spec.role:<7} {spec.about}")
