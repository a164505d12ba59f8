"""A fill reaches the account's people: in-app, by email (read back from a real local SMTP
server) and by signed webhook (a local receiver verifies it and refuses a replay);
retries, preferences, quiet hours, bursts, a worker dying mid-delivery."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.utils import timezone

from accounts.models import AccountMembership
from execution.protocol import ReportType
from notifications import channels as channels_mod
from notifications import delivery as delivery_mod
from notifications.delivery import deliveries_sweep
from notifications.models import Delivery, DeliveryStatus, Notification
from notifications.services import notify_account_members
from notifications.services_delivery import preferences_update, webhook_create
from notifications.webhooks import signature_header
from oms_site.errors import RiskRejected
from orders.services import order_apply_report
from tests.factories import UserFactory, account_with_member
from tests.notifications import delivery_servers
from tests.orders import conftest as order_fixtures
from tests.orders.factories import place
from tests.orders.fakes import report

pytestmark = pytest.mark.django_db

# Fixtures shared with other packages (real SMTP server and webhook receiver; the orders
# tests' fake broker, quoted instrument and on-commit runner).
smtp_inbox = delivery_servers.smtp_inbox
webhook_receiver = delivery_servers.webhook_receiver
_fast_fake_broker = order_fixtures._fast_fake_broker
fake_broker = order_fixtures.fake_broker
sim = order_fixtures.sim
acme = order_fixtures.acme
tick = order_fixtures.tick
quoted = order_fixtures.quoted
submit = order_fixtures.submit


@pytest.fixture
def team(fake_broker):
    """Account "Main" on the fake broker: trader (owner) and dealer (trade member)."""
    trader = UserFactory(username="tess", role="trader")
    dealer = UserFactory(username="dana", role="dealer")
    account = account_with_member(
        user=trader, role="owner", broker="fake", cash=Decimal("1000000"), name="Main"
    )
    AccountMembership.objects.create(user=dealer, account=account, role="trade")
    return {"account": account, "trader": trader, "dealer": dealer}


@pytest.fixture
def working(team, quoted, submit):
    with submit():
        order = place(team["trader"], team["account"])
    order.refresh_from_db()
    assert order.status == "new"
    return order


def fill(order, qty, price="100", kind=ReportType.FILL):
    return report(order.pk, kind, fill_qty=Decimal(qty), fill_price=Decimal(price))


def subscribe_webhook(user, receiver, events=("order.filled",)):
    preferences_update(
        user=user, data={"channels": {event: ["in_app", "webhook"] for event in events}}
    )
    issued = webhook_create(user=user, url=receiver.url, events=list(events))
    receiver.secret = issued.secret
    return issued.endpoint


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """The beat job (outside a transaction its enqueues go out at once)."""

    def _sweep() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return deliveries_sweep()

    return _sweep


def due_now():
    """Let every pending retry's backoff pass."""
    Delivery.objects.filter(status=DeliveryStatus.PENDING).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def test_a_fill_reaches_every_member_in_app_by_email_and_by_signed_webhook(
    team, working, smtp_inbox, webhook_receiver, django_capture_on_commit_callbacks
):
    # given the dealer wants fills by email and the trader by webhook
    preferences_update(
        user=team["dealer"], data={"channels": {"order.filled": ["in_app", "email"]}}
    )
    subscribe_webhook(team["trader"], webhook_receiver)

    # when the venue fills the order
    with django_capture_on_commit_callbacks(execute=True):
        order_apply_report(fill(working, "10", "100.05"))

    # then both have it in the app, in words
    for user in (team["trader"], team["dealer"]):
        note = Notification.objects.get(user=user, kind="order.filled")
        assert note.title == "Filled: Buy 10 ACME limit 100"
        assert "10 ACME at an average of 100.05 on Main" in note.body
        assert note.read_at is None
    # the dealer by email (text and HTML), read back from the SMTP server
    (mail,) = smtp_inbox.to("dana@example.com")
    assert mail["Subject"] == "Filled: Buy 10 ACME limit 100"
    assert "average of 100.05" in mail.get_body(("plain",)).get_content()
    assert (
        "<strong>Filled: Buy 10 ACME limit 100</strong>" in mail.get_body(("html",)).get_content()
    )
    assert smtp_inbox.to("tess@example.com") == []  # fills are not emailed by default
    # the trader's receiver verified the signature and took it once
    (got,) = webhook_receiver.accepted()
    body = got.json
    assert set(body) == {"id", "event", "created_at", "data"}
    assert body["event"] == "order.filled"
    assert body["data"]["order"]["id"] == str(working.pk)
    assert body["data"]["order"]["filled_qty"] == "10"
    delivery = Delivery.objects.get(channel="webhook")
    assert body["id"] == delivery.key and delivery.status == "sent" and delivery.attempts == 1
    # and the same request sent again is refused by the receiver (replay), as is a forgery
    replay = requests.post(webhook_receiver.url, data=got.body, headers=got.headers, timeout=5)
    assert replay.status_code == 409
    forged = requests.post(
        webhook_receiver.url,
        data=got.body.replace(b'"10"', b'"99"'),
        headers=got.headers,
        timeout=5,
    )
    assert forged.status_code == 401


def test_a_receiver_failing_twice_gets_it_on_the_third_try_with_the_same_id(
    sweep, team, working, webhook_receiver, django_capture_on_commit_callbacks
):
    # given a receiver that answers 500 twice, then 200
    subscribe_webhook(team["trader"], webhook_receiver)
    webhook_receiver.script = [500, 500]

    # when the order fills: the first attempt fails and is scheduled within a minute
    with django_capture_on_commit_callbacks(execute=True):
        order_apply_report(fill(working, "10"))
    delivery = Delivery.objects.get(channel="webhook")
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "HTTP 500" in delivery.last_error
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 0 < wait <= 60
    assert sweep() == 0  # not due yet

    # then each retry comes when due, later ones backing off
    due_now()
    sweep()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 2)
    assert (delivery.next_attempt_at - timezone.now()).total_seconds() > 45  # 60 s: doubled
    due_now()
    sweep()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 3, "")
    ids = {r.json["id"] for r in webhook_receiver.received}
    assert [r.status for r in webhook_receiver.received] == [500, 500, 200]
    assert ids == {delivery.key}


def test_an_endpoint_failing_for_a_day_is_disabled_and_its_owner_told(
    sweep, team, working, webhook_receiver, django_capture_on_commit_callbacks
):
    endpoint = subscribe_webhook(team["trader"], webhook_receiver)
    webhook_receiver.script = [503] * 5
    with django_capture_on_commit_callbacks(execute=True):
        order_apply_report(fill(working, "10"))
    # a day of failures later
    type(endpoint).objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(hours=24, minutes=1)
    )
    due_now()
    sweep()
    endpoint.refresh_from_db()
    assert endpoint.is_active is False and endpoint.disabled_at is not None
    assert Delivery.objects.get(channel="webhook").status == "failed"
    told = Notification.objects.get(user=team["trader"], kind="webhook.disabled")
    assert webhook_receiver.url in told.title


def test_switching_a_channel_off_stops_it(
    team, working, smtp_inbox, django_capture_on_commit_callbacks
):
    # given the trader turned email off for rejections (on by default) and in-app off for fills
    preferences_update(
        user=team["trader"],
        data={
            "channels": {
                "order.rejected": ["in_app"],
                "risk.limit_hit": ["in_app"],
                "order.filled": [],
            }
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        order_apply_report(fill(working, "10"))
        with pytest.raises(RiskRejected):
            place(team["trader"], team["account"], qty="999999999")
    assert Notification.objects.filter(kind="order.rejected").count() == 2

    # then the dealer (defaults) got the rejection by email; the trader did not
    assert len(smtp_inbox.to("dana@example.com")) == 1
    assert smtp_inbox.to("tess@example.com") == []
    assert not Delivery.objects.filter(user=team["trader"]).exists()
    # and the trader's fill is kept but not shown as unread (in-app off)
    fill_note = Notification.objects.get(user=team["trader"], kind="order.filled")
    assert fill_note.read_at is not None
    assert Notification.objects.get(user=team["dealer"], kind="order.filled").read_at is None


def test_quiet_hours_hold_email_back_but_keep_the_in_app_record(
    team, working, smtp_inbox, django_capture_on_commit_callbacks
):
    # given quiet hours covering the whole day in the dealer's own zone
    now_local = timezone.now().astimezone(timezone.get_fixed_timezone(0))
    start = (now_local - timedelta(hours=1)).strftime("%H:%M")
    end = (now_local + timedelta(hours=1)).strftime("%H:%M")
    preferences_update(
        user=team["dealer"],
        data={
            "channels": {"order.filled": ["in_app", "email"]},
            "quiet_hours": {"start": start, "end": end, "timezone": "Asia/Kolkata"},
        },
    )
    # (Asia/Kolkata is UTC+5:30: the window above, shifted, must not cover now there)
    with django_capture_on_commit_callbacks(execute=True):
        order_apply_report(fill(working, "10"))
    assert len(smtp_inbox.to("dana@example.com")) == 1  # not quiet in Kolkata

    preferences_update(
        user=team["dealer"], data={"quiet_hours": {"start": start, "end": end, "timezone": "UTC"}}
    )
    with django_capture_on_commit_callbacks(execute=True):
        second = place(team["trader"], team["account"])
    with django_capture_on_commit_callbacks(execute=True):
        order_apply_report(fill(second, "10"))
    assert len(smtp_inbox.to("dana@example.com")) == 1  # held back now
    held = Delivery.objects.filter(user=team["dealer"], status="suppressed")
    assert held.count() == 1 and held.get().last_error == "Quiet hours."
    assert Notification.objects.filter(user=team["dealer"], kind="order.filled").count() == 2


def test_a_viewer_of_one_account_never_hears_of_another(
    team, working, smtp_inbox, webhook_receiver, django_capture_on_commit_callbacks
):
    # given Vera sees only account B, with every channel on for every order event
    vera = UserFactory(username="vera", role="viewer")
    other = account_with_member(user=vera, role="view", broker="fake", name="B")
    subscribe_webhook(vera, webhook_receiver, events=("order.filled", "order.partially_filled"))
    preferences_update(
        user=vera, data={"channels": {"order.filled": ["in_app", "email", "webhook"]}}
    )
    # when account A's order fills
    with django_capture_on_commit_callbacks(execute=True):
        order_apply_report(fill(working, "4", kind=ReportType.PARTIAL_FILL))
        order_apply_report(fill(working, "6"))
    # then Vera has nothing, anywhere
    assert not Notification.objects.filter(user=vera).exists()
    assert smtp_inbox.to("vera@example.com") == []
    assert webhook_receiver.received == []
    assert not Delivery.objects.filter(user=vera).exists()
    assert other.pk != team["account"].pk


def test_a_burst_of_partial_fills_is_one_message_with_the_running_total(
    team, working, smtp_inbox, webhook_receiver, django_capture_on_commit_callbacks
):
    # given the dealer wants partial fills by email and the trader by webhook
    preferences_update(
        user=team["dealer"], data={"channels": {"order.partially_filled": ["in_app", "email"]}}
    )
    subscribe_webhook(team["trader"], webhook_receiver, events=("order.partially_filled",))
    # when 9 partial fills of 1 arrive
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(9):
            order_apply_report(fill(working, "1", kind=ReportType.PARTIAL_FILL))

    # then each member has one notification, showing 9 of 10
    for user in (team["trader"], team["dealer"]):
        (note,) = Notification.objects.filter(user=user, kind="order.partially_filled")
        assert note.title == "Partly filled: 9 of 10 ACME"
    # and one email, one webhook: not nine
    assert len(smtp_inbox.to("dana@example.com")) == 1
    assert len(webhook_receiver.received) == 1


def test_a_worker_dying_mid_delivery_delivers_later_once_for_the_receiver(
    sweep, team, working, webhook_receiver, django_capture_on_commit_callbacks, monkeypatch
):
    # given a worker that dies after the receiver took the POST but before it recorded it
    subscribe_webhook(team["trader"], webhook_receiver)
    real_mark_sent = delivery_mod._mark_sent

    def killed(ids):
        raise SystemExit("worker killed")

    monkeypatch.setattr(delivery_mod, "_mark_sent", killed)
    with pytest.raises(SystemExit), django_capture_on_commit_callbacks(execute=True):
        order_apply_report(fill(working, "10"))
    delivery = Delivery.objects.get(channel="webhook")
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert sweep() == 0  # leased: nobody else sends it meanwhile

    # when the lease runs out and the sweeper sends it again (a healthy worker, a minute on)
    monkeypatch.setattr(delivery_mod, "_mark_sent", real_mark_sent)
    monkeypatch.setattr(
        channels_mod,
        "signature_header",
        lambda *, secret, body: signature_header(
            secret=secret, body=body, timestamp=int(time.time()) + 60
        ),
    )
    due_now()
    sweep()

    # then it is recorded sent; the receiver saw the same id twice and processed it once
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    assert [r.status for r in webhook_receiver.received] == [200, 200]
    assert {r.json["id"] for r in webhook_receiver.received} == {delivery.key}
    assert webhook_receiver.processed == [delivery.key]


def test_a_burst_of_500_fills_is_one_email_and_one_chat_message_per_user(
    team, smtp_inbox, django_capture_on_commit_callbacks
):
    # given both members want fills by email and chat (a local apprise json:// endpoint)
    sink = delivery_servers.Sink()
    server, sink.url = delivery_servers.start_sink(sink)
    for user in (team["trader"], team["dealer"]):
        preferences_update(
            user=user,
            data={
                "channels": {"order.filled": ["in_app", "email", "chat"]},
                "chat_urls": [f"json://{sink.url}"],
            },
        )
    # when 500 fills land before the workers get to them (one burst)
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        for number in range(500):
            notify_account_members(
                account=team["account"],
                event="order.filled",
                title=f"Filled: order {number}",
                body="Bought 1 ACME.",
                data={"n": number},
            )
    for callback in after_commit:
        callback()
    server.shutdown()

    # then each person gets one email and one chat message, listing the first 50
    for address in ("tess@example.com", "dana@example.com"):
        (mail,) = smtp_inbox.to(address)
        assert mail["Subject"] == "500 notifications from OMS"
        text = mail.get_body(("plain",)).get_content()
        assert "Filled: order 0" in text and "… and 450 more." in text
    assert len(sink.bodies) == 2
    assert Delivery.objects.filter(status="sent").count() == 2000  # 500 × 2 users × 2
    assert Notification.objects.filter(kind="order.filled").count() == 1000
