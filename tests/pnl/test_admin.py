"""Back office: pnl tables are read-only; alerts are resolved through the service."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import AuditLogEntry
from pnl.models import ReconciliationAlert
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    user = UserFactory(username="backoffice", role="admin", is_staff=True)
    client = Client()
    client.force_login(user)
    client.user = user
    return client


@pytest.mark.parametrize(
    "model", ["fill", "position", "lot", "realizedmatch", "dailypnl", "reconciliationalert"]
)
def test_changelists_load_and_nothing_can_be_added(staff, account, acme, book, model):
    book(account, acme, "buy", "10", "100")
    book(account, acme, "sell", "4", "101")
    assert staff.get(f"/admin/pnl/{model}/").status_code == 200
    assert staff.get(f"/admin/pnl/{model}/add/").status_code == 403


def test_a_position_detail_is_read_only(staff, account, acme, book):
    from pnl.models import Position

    book(account, acme, "buy", "10", "100")
    position = Position.objects.get()
    response = staff.get(f"/admin/pnl/position/{position.pk}/change/")
    assert response.status_code == 200
    assert b'name="qty"' not in response.content  # shown, not editable


def test_resolving_alerts_from_the_back_office_is_audited(staff, account):
    alert = ReconciliationAlert.objects.create(account=account, symbol="ACME", ours=10, theirs=7)
    response = staff.post(
        "/admin/pnl/reconciliationalert/",
        {"action": "resolve_alerts", "_selected_action": [alert.pk]},
        follow=True,
    )
    assert response.status_code == 200
    alert.refresh_from_db()
    assert (alert.status, alert.resolved_by) == ("resolved", staff.user)
    assert AuditLogEntry.objects.filter(
        action="pnl.reconciliation.resolved", actor=staff.user, object_id=str(alert.pk)
    ).exists()


def test_non_admin_staff_cannot_open_pnl_admin(account):
    user = UserFactory(username="staffer", role="trader", is_staff=True)
    client = Client()
    client.force_login(user)
    assert client.get("/admin/pnl/position/").status_code == 403
