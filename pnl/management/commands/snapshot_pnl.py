"""Take the daily PnL snapshot now (what the 23:59 UTC beat job does).

python manage.py snapshot_pnl [--date YYYY-MM-DD] [--account ID]
"""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from oms_site.errors import ApplicationError
from pnl.services import pnl_snapshot_take


class Command(BaseCommand):
    help = "Snapshot today's (or --date's) PnL of every account with positions (or --account)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--date", help="UTC date, YYYY-MM-DD (default: today).")
        parser.add_argument("--account", help="Only this trading account (id).")

    def handle(self, *args, **options) -> None:
        day = None
        if options["date"]:
            try:
                day = date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError("--date must be YYYY-MM-DD.") from exc
        try:
            result = pnl_snapshot_take(day=day, account_id=options["account"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Snapshot of {result.date}: {result.accounts} account(s), {result.rows} row(s)."
            )
        )
