"""Scheduled orders (beat tasks kept in step), the intraday square-off and re-entry of
rejected orders."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from orders.automation.eod import orders_square_off_intraday
from orders.automation.scheduled import scheduled_order_run
from orders.models import Order, ScheduledOrder
from tests.factories import UserFactory
from tests.orders.conftest import order_body
from tests.orders.factories import place

pytestmark = pytest.mark.django_db
URL = "/api/v1/schedules"


def schedule_body(account, **overrides):
    body = {
        "account": str(account.pk),
        "name": "Morning buy",
        "order": {"symbol": "ACME", "side": "buy", "type": "market", "qty": "5"},
        "kind": "once",
        "run_at": (timezone.now() + timedelta(hours=1)).isoformat(),
    }
    body.update(overrides)
    return body


# --- scheduled orders ------------------------------------------------------------------------


def test_a_once_schedule_gets_a_one_off_beat_task_and_places_its_order(
    client, paper, quoted, submit
):
    response = client.post(URL, schedule_body(paper), format="json")
    assert response.status_code == 201, response.json()
    row = ScheduledOrder.objects.get(pk=response.json()["id"])
    task = PeriodicTask.objects.get(pk=row.periodic_task_id)
    assert task.task == "orders.scheduled_order_run" and task.one_off and task.enabled
    assert task.clocked.clocked_time == row.run_at
    assert json.loads(task.kwargs) == {"schedule_id": str(row.pk)}
    # when beat runs it, the order is placed (and fills on the paper broker)
    now = timezone.now()
    with submit():
        order = scheduled_order_run(schedule_id=row.pk, now=now)
    assert order is not None and order.qty == Decimal("5") and order.side == "buy"
    assert Order.objects.get(pk=order.pk).status == "filled"
    body = client.get(f"{URL}/{row.pk}").json()
    assert body["run_count"] == 1 and body["last_order_id"] == str(order.pk)
    assert body["enabled"] is False  # a once schedule is done
    # a re-delivered run places nothing more
    with submit():
        assert scheduled_order_run(schedule_id=row.pk, now=now) is None
    assert Order.objects.filter(account=paper).count() == 1


def test_a_cron_schedule_in_its_time_zone_can_be_edited_disabled_and_deleted(client, paper, quoted):
    body = schedule_body(paper, kind="cron", cron="15 9 * * 1-5", tz="Asia/Kolkata")
    body.pop("run_at")
    row = client.post(URL, body, format="json").json()
    task = PeriodicTask.objects.get(name=f"scheduled-order:{row['id']}")
    crontab = task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week) == ("15", "9", "1-5")
    assert str(crontab.timezone) == "Asia/Kolkata" and not task.one_off
    response = client.patch(
        f"{URL}/{row['id']}", {"cron": "30 10 * * *", "enabled": False}, format="json"
    )
    assert response.status_code == 200, response.json()
    task.refresh_from_db()
    assert (task.crontab.minute, task.crontab.hour, task.enabled) == ("30", "10", False)
    # a disabled schedule places nothing even if its task runs
    assert scheduled_order_run(schedule_id=row["id"]) is None
    assert client.delete(f"{URL}/{row['id']}").status_code == 204
    assert not PeriodicTask.objects.filter(name=f"scheduled-order:{row['id']}").exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "cron", "cron": "every morning", "run_at": None}, "cron"),
        ({"kind": "cron", "cron": "99 9 * * *", "run_at": None}, "cron"),
        ({"run_at": "2001-01-01T09:15:00Z"}, "run_at"),
        (
            {"order": {"symbol": "ACME", "side": "buy", "type": "limit", "qty": "5"}},
            "order.limit_price",
        ),
        ({"order": {"symbol": "ACME", "side": "buy", "type": "market", "qty": "0"}}, "order.qty"),
        (
            {"order": {"symbol": "NOPE", "side": "buy", "type": "market", "qty": "1"}},
            "order.symbol",
        ),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_schedules_are_400_naming_the_field(client, paper, quoted, overrides, field):
    response = client.post(URL, schedule_body(paper, **overrides), format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert (
        not ScheduledOrder.objects.exists()
        and not PeriodicTask.objects.filter(task="orders.scheduled_order_run").exists()
    )


def test_schedules_of_others_are_invisible(client, make_key_client, paper, quoted):
    row = client.post(URL, schedule_body(paper), format="json").json()
    stranger = make_key_client(UserFactory(username="oscar", role="trader"))
    assert stranger.get(f"{URL}/{row['id']}").status_code == 404
    assert stranger.delete(f"{URL}/{row['id']}").status_code == 404
    assert stranger.get(URL).json()["count"] == 0


def test_a_run_after_the_owner_lost_trade_access_places_nothing(client, trader, paper, quoted):
    from accounts.models import AccountMembership

    row = client.post(URL, schedule_body(paper), format="json").json()
    AccountMembership.objects.filter(account=paper, user=trader).update(role="view")
    assert scheduled_order_run(schedule_id=row["id"]) is None
    assert "no longer trade" in ScheduledOrder.objects.get(pk=row["id"]).last_error
    assert not Order.objects.exists()


# --- intraday square-off ---------------------------------------------------------------------


def test_intraday_positions_are_squared_off_at_the_configured_time(
    client, trader, paper, quoted, submit, settings
):
    settings.OMS_SIM_SQUARE_OFF_UTC = "23:45"
    # given an intraday buy of 10 and a delivery buy of 5 (both filled), and an open
    # intraday limit order
    with submit():
        place(trader, paper, order_type="market", limit_price=None, product="intraday")
        place(trader, paper, order_type="market", limit_price=None, qty="5")
        resting = place(trader, paper, limit_price="90", product="intraday")
    today = timezone.now().astimezone(UTC).date()
    before = datetime.combine(today, time(23, 44), tzinfo=UTC)
    at = datetime.combine(today, time(23, 46), tzinfo=UTC)
    # before the square-off time nothing happens
    with submit():
        assert orders_square_off_intraday(now=before) == []
    # at it, the intraday 10 are sold at market; the delivery 5 stay; the open intraday
    # order is cancelled
    with submit():
        placed = orders_square_off_intraday(now=at)
    (order_id,) = placed
    square = Order.objects.get(pk=order_id)
    assert (square.side, square.type, square.qty, square.product) == (
        "sell",
        "market",
        Decimal("10"),
        "intraday",
    )
    assert square.status == "filled" and square.client_order_id.startswith("sqoff-")
    resting.refresh_from_db()
    assert resting.status == "canceled"
    from pnl.selectors import position_qty

    assert position_qty(account_id=paper.pk, symbol="ACME") == Decimal("5")
    # running again changes nothing
    with submit():
        assert orders_square_off_intraday(now=at + timedelta(minutes=1)) == []


# --- re-entry --------------------------------------------------------------------------------


def test_a_rejected_entry_is_reentered_repriced_until_accepted(
    client, account, quoted, fake_broker, submit
):
    submitted = []
    original = fake_broker.submit

    def first_rejected(request):
        submitted.append(request)
        fake_broker.mode = "reject" if len(submitted) == 1 else "ack"
        return original(request)

    fake_broker.submit = first_rejected
    body = order_body(account, reentry={"max_retries": 2, "reprice_ticks": 2})
    with submit():
        response = client.post("/api/v1/orders", body, format="json")
    assert response.status_code == 201, response.json()
    first = Order.objects.get(pk=response.json()["id"])
    assert first.status == "rejected"
    (second,) = first.reentries.all()
    assert (second.status, second.reentry_attempt, second.limit_price) == (
        "new",
        1,
        Decimal("100.10"),
    )
    assert second.client_order_id == f"reentry-{first.pk}-1"
    body = client.get(f"/api/v1/orders/{second.pk}").json()
    assert body["reentry_of"] == str(first.pk) and body["reentry_attempt"] == 1


def test_reentry_stops_after_max_retries(client, account, quoted, fake_broker, submit):
    fake_broker.mode = "reject"
    body = order_body(account, reentry={"max_retries": 2, "reprice_ticks": 1})
    with submit():
        first_id = client.post("/api/v1/orders", body, format="json").json()["id"]
    chain = Order.objects.filter(account=account).order_by("reentry_attempt")
    assert [(o.reentry_attempt, o.limit_price, o.status) for o in chain] == [
        (0, Decimal("100"), "rejected"),
        (1, Decimal("100.05"), "rejected"),
        (2, Decimal("100.10"), "rejected"),
    ]
    assert [str(o.reentry_of_id) for o in chain[1:]] == [first_id, first_id]


def test_reentry_rule_is_validated(client, account, quoted):
    body = order_body(account, reentry={"max_retries": 0})
    response = client.post("/api/v1/orders", body, format="json")
    assert response.status_code == 400
    assert "reentry.max_retries" in response.json()["error"]["fields"]


def test_a_schedule_post_retried_with_its_idempotency_key_creates_one(client, paper, quoted):
    # given a schedule posted with an Idempotency-Key
    body = schedule_body(paper)
    first = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="sched-1")
    # when the client retries it (the answer was lost)
    again = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="sched-1")
    # then the same schedule comes back and only one exists
    assert first.status_code == 201, first.content
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert ScheduledOrder.objects.filter(account=paper).count() == 1
