"""Daily PnL snapshots: the service, the beat job, the command and the admin API."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.management import CommandError, call_command

from oms_site.celery import app as celery_app
from pnl.models import DailyPnl
from pnl.services import pnl_snapshot_take
from pnl.tasks import snapshot_daily_task, snapshot_day
from tests.factories import account_with_member

pytestmark = pytest.mark.django_db
URL = "/api/v1/pnl/snapshots"


def rows_of(account, day):
    return {row.symbol: row for row in DailyPnl.objects.filter(account=account, date=day)}


def test_snapshot_records_each_symbol_and_a_total(account, acme, foo, book, quote):
    # given today: ACME bought 10 @ 100, sold 4 @ 103 (+12, fees 2); FOO short 5 @ 20
    book(account, acme, "buy", "10", "100", fee="1")
    book(account, acme, "sell", "4", "103", fee="1")
    book(account, foo, "sell", "5", "20")
    quote("ACME", "101")
    quote("FOO", "21")
    # when the snapshot is taken
    result = pnl_snapshot_take()
    today = datetime.now(UTC).date()
    assert (result.date, result.accounts, result.rows) == (today, 1, 3)
    rows = rows_of(account, today)
    acme_row = rows["ACME"]
    assert (acme_row.qty, acme_row.mark_price, acme_row.realized, acme_row.fees) == (6, 101, 12, 2)
    assert (acme_row.unrealized, acme_row.net) == (6, 16)  # (101 − 100) × 6; 12 + 6 − 2
    assert (rows["FOO"].unrealized, rows["FOO"].net) == (-5, -5)
    total = rows[None]
    assert (total.realized, total.unrealized, total.fees, total.net) == (12, 1, 2, 11)


def test_the_days_net_counts_the_change_in_unrealized_since_the_last_snapshot(
    account, acme, book, quote
):
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    book(account, acme, "buy", "10", "100", ts=datetime.now(UTC) - timedelta(days=1))
    quote("ACME", "104", ts=datetime.combine(yesterday, time(23, 59), tzinfo=UTC))
    pnl_snapshot_take(day=yesterday)  # level 40, marked to yesterday's last bar
    quote("ACME", "101")
    pnl_snapshot_take()  # level 10: the day lost 30
    today_total = rows_of(account, datetime.now(UTC).date())[None]
    assert (today_total.unrealized, today_total.unrealized_change, today_total.net) == (
        10,
        -30,
        -30,
    )


def test_taking_the_same_day_again_replaces_it(account, acme, book, quote):
    book(account, acme, "buy", "10", "100")
    quote("ACME", "101")
    pnl_snapshot_take()
    quote("ACME", "102")
    pnl_snapshot_take()
    rows = DailyPnl.objects.filter(account=account)
    assert rows.count() == 2 and rows.get(symbol="ACME").unrealized == 20


def test_a_future_day_is_refused(account):
    with pytest.raises(CommandError, match="future"):
        call_command(
            "snapshot_pnl", "--date", (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
        )


def test_command_snapshots_one_account(account, trader, acme, book, capsys):
    other = account_with_member(user=trader, name="Other")
    book(account, acme, "buy", "1", "100")
    book(other, acme, "buy", "1", "100")
    call_command("snapshot_pnl", "--account", str(account.pk))
    assert "1 account(s)" in capsys.readouterr().out
    assert set(DailyPnl.objects.values_list("account_id", flat=True)) == {account.pk}


def test_the_beat_job_runs_at_the_close_and_a_late_run_closes_the_day_it_was_meant_for(
    account, acme, book
):
    entry = celery_app.conf.beat_schedule["pnl-daily-snapshot"]
    assert entry["task"] == "pnl.snapshot_daily"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({23}, {59})
    assert snapshot_day(datetime(2025, 3, 4, 23, 59, 30, tzinfo=UTC)).isoformat() == "2025-03-04"
    assert snapshot_day(datetime(2025, 3, 5, 0, 2, tzinfo=UTC)).isoformat() == "2025-03-04"
    # a fill on the day the job closes now (yesterday in the minutes after midnight UTC)
    day = snapshot_day(datetime.now(UTC))
    book(account, acme, "buy", "1", "100", ts=datetime.combine(day, time(12), tzinfo=UTC))
    assert snapshot_daily_task.delay().get() >= 1


def test_only_admins_take_snapshots_over_the_api(
    make_key_client, admin_user, trader, account, acme, book
):
    book(account, acme, "buy", "1", "100")
    assert make_key_client(trader).post(URL, {}, format="json").status_code == 403
    assert not DailyPnl.objects.exists()
    response = make_key_client(admin_user).post(URL, {"account": str(account.pk)}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json() == {
        "date": datetime.now(UTC).date().isoformat(),
        "accounts": 1,
        "rows": 2,  # ACME and the account total
    }
    bad = make_key_client(admin_user).post(URL, {"date": "soon"}, format="json")
    assert bad.status_code == 400 and "date" in bad.json()["error"]["fields"]
