"""Scheduled orders created, changed and deleted through the API leave audit entries (the
back office reads the audit log; the admin's own edits are audited by the admin)."""

from __future__ import annotations

import pytest

from accounts.models import AuditLogEntry
from tests.orders.test_schedules_eod import URL, schedule_body

pytestmark = pytest.mark.django_db


def entries(schedule_id: str) -> list[AuditLogEntry]:
    return list(
        AuditLogEntry.objects.filter(
            object_type="orders.scheduledorder", object_id=schedule_id
        ).order_by("id")
    )


def test_a_schedule_deleted_through_the_api_leaves_an_audit_entry(client, paper, quoted, trader):
    # given a schedule created and renamed through the API
    row = client.post(URL, schedule_body(paper), format="json").json()
    renamed = client.patch(f"{URL}/{row['id']}", {"name": "Evening buy"}, format="json")
    assert renamed.status_code == 200, renamed.content
    # when it is deleted through the API
    assert client.delete(f"{URL}/{row['id']}").status_code == 204
    # then the audit log names each step, who did it and what the schedule was
    trail = entries(row["id"])
    assert [e.action for e in trail] == ["schedule.create", "schedule.update", "schedule.delete"]
    assert {e.actor_id for e in trail} == {trader.pk}
    deleted = trail[-1].data
    assert deleted["name"] == "Evening buy" and deleted["account"] == str(paper.pk)
    assert deleted["order"]["symbol"] == "ACME" and deleted["kind"] == "once"
