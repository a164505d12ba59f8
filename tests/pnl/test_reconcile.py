"""Reconciliation: differences with the venue become alerts, audit records and
notifications — never an overwrite of our positions."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from accounts.models import AuditLogEntry
from notifications.models import Notification
from oms_site.celery import app as celery_app
from pnl import registry
from pnl.models import Position, ReconciliationAlert
from pnl.services import reconcile_positions, reconciliation_alert_resolve
from pnl.tasks import reconcile_all_task
from tests.factories import account_with_member

pytestmark = pytest.mark.django_db


@dataclass
class VenueRow:
    symbol: str
    qty: Decimal


@pytest.fixture
def venue():
    """A fake venue whose positions the test sets: venue.positions[account_id] = {...}."""

    class FakeVenue:
        def __init__(self) -> None:
            self.positions: dict[str, dict[str, str]] = {}
            self.calls: list[tuple[str, str]] = []

        def __call__(self, *, broker: str, account_id: str):
            self.calls.append((broker, account_id))
            rows = self.positions.get(account_id, {})
            return [VenueRow(symbol, Decimal(qty)) for symbol, qty in rows.items()]

    fake = FakeVenue()
    registry.register_position_source(fake)
    return fake


def test_agreeing_positions_raise_nothing(account, acme, book, venue):
    book(account, acme, "buy", "10", "100")
    venue.positions[str(account.pk)] = {"ACME": "10"}
    result = reconcile_positions(account_id=account.pk)
    assert result.checked and result.differences == 0
    assert venue.calls == [("paper", str(account.pk))]
    assert not ReconciliationAlert.objects.exists()


def test_a_difference_opens_one_alert_with_audit_and_notification_and_changes_nothing(
    account, trader, acme, foo, book, venue
):
    # given we hold 10 ACME, the venue says 7 ACME and 3 FOO
    book(account, acme, "buy", "10", "100")
    venue.positions[str(account.pk)] = {"acme": "7", "FOO": "3"}
    # when reconciling twice
    first = reconcile_positions(account_id=account.pk)
    second = reconcile_positions(account_id=account.pk)
    # then two alerts, opened once, both sides recorded
    assert len(first.opened) == 2 and second.opened == [] and second.differences == 0
    alerts = {a.symbol: a for a in ReconciliationAlert.objects.all()}
    assert (alerts["ACME"].ours, alerts["ACME"].theirs, alerts["ACME"].status) == (10, 7, "open")
    assert (alerts["FOO"].ours, alerts["FOO"].theirs) == (0, 3)
    # and our position is untouched
    assert Position.objects.get(symbol="ACME").qty == 10
    # and each alert is audited and notified to the account's members
    audit = AuditLogEntry.objects.filter(action="pnl.reconciliation.mismatch")
    assert audit.count() == 2
    assert audit.get(object_id=str(alerts["ACME"].pk)).data == {
        "account": str(account.pk),
        "symbol": "ACME",
        "ours": "10",
        "theirs": "7",
    }
    notes = Notification.objects.filter(user=trader, kind="reconciliation.difference")
    assert notes.count() == 2 and "ACME" in " ".join(n.title for n in notes)


def test_a_changed_difference_updates_the_alert_and_agreement_resolves_it(
    account, acme, book, venue
):
    book(account, acme, "buy", "10", "100")
    venue.positions[str(account.pk)] = {"ACME": "7"}
    reconcile_positions(account_id=account.pk)
    venue.positions[str(account.pk)] = {"ACME": "8"}
    changed = reconcile_positions(account_id=account.pk)
    alert = ReconciliationAlert.objects.get()
    assert changed.changed == [alert.pk] and alert.theirs == 8
    venue.positions[str(account.pk)] = {"ACME": "10"}
    resolved = reconcile_positions(account_id=account.pk)
    alert.refresh_from_db()
    assert resolved.resolved == [alert.pk] and alert.status == "resolved"
    assert AuditLogEntry.objects.filter(action="pnl.reconciliation.resolved").count() == 1


def test_an_admin_resolves_an_alert_once(account, admin_user, acme, book, venue):
    book(account, acme, "buy", "10", "100")
    venue.positions[str(account.pk)] = {}
    reconcile_positions(account_id=account.pk)
    alert = ReconciliationAlert.objects.get()
    reconciliation_alert_resolve(alert_id=alert.pk, actor=admin_user, note="Venue lagged.")
    alert.refresh_from_db()
    assert (alert.status, alert.resolved_by, alert.resolution_note) == (
        "resolved",
        admin_user,
        "Venue lagged.",
    )
    from oms_site.errors import InvalidState

    with pytest.raises(InvalidState):
        reconciliation_alert_resolve(alert_id=alert.pk, actor=admin_user)


def test_with_the_real_paper_venue_orders_reconcile_and_drift_is_flagged(
    trader, client, acme, quote, submit
):
    # given orders filled on the paper broker (the venue keeps its own fills)
    paper = account_with_member(user=trader, name="Paper", broker="paper")
    quote("ACME", "100", bid="99.95", ask="100.05")
    with submit():
        response = client.post(
            "/api/v1/orders",
            {
                "account": str(paper.pk),
                "symbol": "ACME",
                "side": "buy",
                "type": "market",
                "qty": "10",
                "time_in_force": "day",
            },
            format="json",
        )
    assert response.status_code == 201, response.json()
    # then the lead's wiring (execution.services.broker_positions) agrees with us
    assert reconcile_positions(account_id=paper.pk).differences == 0
    # when our derived position drifts, the next run flags it instead of fixing it
    Position.objects.filter(account=paper).update(qty=Decimal("9"))
    assert len(reconcile_positions(account_id=paper.pk).opened) == 1
    assert Position.objects.get(account=paper).qty == 9


def test_the_beat_job_checks_every_active_account_and_survives_a_failing_venue(
    account, trader, acme, book, venue
):
    entry = celery_app.conf.beat_schedule["pnl-reconcile-positions"]
    assert (entry["task"], entry["schedule"]) == ("pnl.reconcile_all", 60.0)
    suspended = account_with_member(user=trader, name="Suspended", status="suspended")
    book(account, acme, "buy", "10", "100")

    def broken(*, broker, account_id):
        raise ConnectionError("venue down")

    registry.register_position_source(broken)
    assert reconcile_all_task.delay().get() == 1  # the suspended account is skipped
    registry.register_position_source(venue)
    assert reconcile_all_task.delay().get() == 1
    assert [call[1] for call in venue.calls] == [str(account.pk)]
    assert str(suspended.pk) not in {call[1] for call in venue.calls}
    assert ReconciliationAlert.objects.get().symbol == "ACME"


def test_without_a_position_source_nothing_is_checked(account, acme, book):
    registry.hooks_restore({})
    assert not reconcile_positions(account_id=account.pk).checked
    assert not ReconciliationAlert.objects.exists()
