"""Recompute positions, lots and realized matches from the fills.

    python manage.py rebuild_positions [--account ID] [--check]

`--check` only reports differences (exit status 1 if there are any); without it the
differences are repaired. A ledger booked by `fill_record` rebuilds identically.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.models import TradingAccount
from oms_site.errors import NotFound
from pnl.models import Fill, Position
from pnl.services import position_rebuild


class Command(BaseCommand):
    help = "Recompute positions from the fills (--check: report differences only)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--account", help="Only this trading account (id).")
        parser.add_argument(
            "--check", action="store_true", help="Report differences without writing."
        )

    def handle(self, *args, **options) -> None:
        write = not options["check"]
        if options["account"]:
            account_ids = [options["account"]]
        else:
            account_ids = sorted(
                {str(pk) for pk in Fill.objects.values_list("account_id", flat=True).distinct()}
                | {str(pk) for pk in Position.objects.values_list("account_id", flat=True)}
            )
        checked = differing = 0
        for account_id in account_ids:
            try:
                result = position_rebuild(account_id=account_id, write=write)
            except NotFound as exc:
                raise CommandError(f"Account {account_id} not found.") from exc
            checked += result.positions_checked
            name = (
                TradingAccount.objects.filter(pk=account_id).values_list("name", flat=True).first()
            )
            for diff in result.diffs:
                differing += 1
                verb = "repaired" if write else "differs"
                self.stdout.write(f"{name} ({account_id}) {diff.symbol} {verb}:")
                for problem in diff.problems:
                    self.stdout.write(f"  - {problem}")
        summary = (
            f"{checked} position(s) in {len(account_ids)} account(s) checked, "
            f"{differing} {'repaired' if write else 'differ'}."
        )
        if differing and not write:
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(summary))
