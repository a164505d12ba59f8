"""What each event says, and to whom: rejections in words, a user's own cancel is silent, a
system cancel is not, stops, GTTs, kill switches (pushed live for the banner), broker
reachability, chat through apprise."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import AccountMembership
from accounts.risk_services import account_kill_switch_set, global_kill_switch_set
from execution.protocol import ReportType
from execution.registry import broker_status_changed
from notifications.models import Delivery, Notification
from notifications.services_delivery import preferences_update
from oms_site.errors import RiskRejected
from orders.services import order_apply_report, order_cancel
from tests.factories import UserFactory, account_with_member
from tests.notifications import delivery_servers
from tests.orders import conftest as order_fixtures
from tests.orders.factories import place
from tests.orders.fakes import report

pytestmark = pytest.mark.django_db

http_sink = delivery_servers.http_sink
_fast_fake_broker = order_fixtures._fast_fake_broker
fake_broker = order_fixtures.fake_broker
sim = order_fixtures.sim
acme = order_fixtures.acme
tick = order_fixtures.tick
quoted = order_fixtures.quoted
submit = order_fixtures.submit


@pytest.fixture
def team(fake_broker):
    trader = UserFactory(username="tess", role="trader")
    viewer = UserFactory(username="vic", role="viewer")
    account = account_with_member(
        user=trader, role="owner", broker="fake", cash=Decimal("100000"), name="Main"
    )
    AccountMembership.objects.create(user=viewer, account=account, role="view")
    return {"account": account, "trader": trader, "viewer": viewer}


def kinds(user) -> list[str]:
    return list(
        Notification.objects.filter(user=user).order_by("created_at").values_list("kind", flat=True)
    )


def test_a_rejection_says_why_in_words_and_names_the_limit_hit(team, quoted, submit):
    with submit(), pytest.raises(RiskRejected):
        place(team["trader"], team["account"], qty="5000")

    note = Notification.objects.get(user=team["viewer"], kind="order.rejected")
    assert note.title == "Rejected: Buy 5000 ACME limit 100"
    assert note.body.startswith("On Main: Order value 500,000.00 is more than the buying power")
    assert "buying_power:" not in note.body  # words, not the machine code
    limit = Notification.objects.get(user=team["viewer"], kind="risk.limit_hit")
    assert limit.title == "Risk limit hit on Main: buying power"
    # a second order hitting the same limit updates that message instead of adding one
    with submit(), pytest.raises(RiskRejected):
        place(team["trader"], team["account"], qty="6000")
    assert Notification.objects.filter(user=team["viewer"], kind="risk.limit_hit").count() == 1
    assert Notification.objects.filter(user=team["viewer"], kind="order.rejected").count() == 2


def test_the_users_own_cancel_is_silent_a_system_cancel_is_not(team, quoted, submit, fake_broker):
    with submit():
        mine = place(team["trader"], team["account"])
        order_cancel(user=team["trader"], order_id=mine.pk)
    mine.refresh_from_db()
    assert mine.status == "canceled"
    assert "order.canceled" not in kinds(team["viewer"])

    with submit():
        other = place(team["trader"], team["account"])
    with submit():
        order_apply_report(report(other.pk, ReportType.CANCELED, reason="venue halt"))
    (note,) = Notification.objects.filter(user=team["viewer"], kind="order.canceled")
    assert note.title == "Canceled: Buy 10 ACME limit 100"
    assert "0 of 10 filled" in note.body


def test_a_stop_that_triggers_says_so(team, quoted, submit, tick):
    with submit():
        place(
            team["trader"],
            team["account"],
            side="buy",
            order_type="stop",
            qty="5",
            limit_price=None,
            stop_price="105",
        )
    with submit():
        tick("ACME", last="105.5", bid="105.45", ask="105.55")
    note = Notification.objects.get(user=team["trader"], kind="trigger.fired")
    assert note.title == "Stop triggered: Buy 5 ACME"
    assert "last price 105.5 crossed the stop 105" in note.body


def test_kill_switch_is_told_to_members_and_pushed_live_to_who_sees_the_banner(
    team, django_capture_on_commit_callbacks, monkeypatch
):
    from notifications import publishing as notification_publishing

    pushed = []
    monkeypatch.setattr(
        notification_publishing, "_deliver", lambda envelopes: pushed.extend(envelopes)
    )
    admin = UserFactory(username="root", role="admin")
    outsider = UserFactory(username="out")
    account_with_member(user=outsider, name="Other")

    with django_capture_on_commit_callbacks(execute=True):
        account_kill_switch_set(actor=admin, account=team["account"], engaged=True)

    for user in (team["trader"], team["viewer"]):
        note = Notification.objects.get(user=user, kind="kill_switch.changed")
        assert note.title == "Kill switch engaged on Main"
        assert note.data["engaged"] is True
    assert not Notification.objects.filter(user=outsider).exists()
    # email by default for the kill switch
    assert Delivery.objects.filter(channel="email", event="kill_switch.changed").count() == 2
    banner = {
        message["user_id"] for _, message in pushed if message["event"] == "kill_switch.changed"
    }
    assert banner == {str(team["trader"].pk), str(team["viewer"].pk), str(admin.pk)}

    with django_capture_on_commit_callbacks(execute=True):
        global_kill_switch_set(actor=admin, engaged=True, reason="market halt")
    assert Notification.objects.get(user=outsider, kind="kill_switch.changed").title == (
        "Global kill switch engaged"
    )


def test_a_broker_going_down_tells_its_accounts_members_and_the_admins(team):
    admin = UserFactory(username="root", role="admin")
    bystander = UserFactory(username="by")
    account_with_member(user=bystander, broker="paper", name="Paper")

    broker_status_changed(broker="fake", status="disconnected", detail="3 calls in a row failed")

    for user in (team["trader"], team["viewer"], admin):
        note = Notification.objects.get(user=user, kind="broker.status_changed")
        assert note.title == "Broker fake unreachable"
    assert not Notification.objects.filter(user=bystander).exists()


def test_chat_goes_through_apprise_urls_in_the_preferences(
    team, quoted, submit, http_sink, django_capture_on_commit_callbacks
):
    preferences_update(
        user=team["trader"],
        data={
            "channels": {"order.filled": ["in_app", "chat"]},
            "chat_urls": [f"json://{http_sink.url}"],
        },
    )
    with submit():
        order = place(team["trader"], team["account"])
    with django_capture_on_commit_callbacks(execute=True):
        order_apply_report(
            report(order.pk, ReportType.FILL, fill_qty=Decimal("10"), fill_price=Decimal("100"))
        )
    (posted,) = http_sink.bodies
    assert posted["title"] == "Filled: Buy 10 ACME limit 100"
    assert "10 ACME at an average of 100 on Main" in posted["message"]
    delivery = Delivery.objects.get(channel="chat")
    assert (delivery.status, delivery.attempts) == ("sent", 1)


def test_the_demo_market_makers_quotes_tell_nobody(team, quoted, submit):
    with submit():
        quote = place(team["trader"], team["account"], tag="market-maker:buy:0")
    with submit():
        order_apply_report(
            report(quote.pk, ReportType.FILL, fill_qty=Decimal("10"), fill_price=Decimal("100"))
        )
    quote.refresh_from_db()
    assert quote.status == "filled"
    assert not Notification.objects.filter(kind="order.filled").exists()
