"""GTT through the REST API on the paper broker: creation rules, firing exactly once at the
right tick, OCO legs, rejection, modify / cancel / expiry, access rules and history."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.automation.gtt import gtts_expire_due
from orders.models import Gtt, Order, Trigger
from tests.factories import UserFactory, account_with_member

pytestmark = pytest.mark.django_db
URL = "/api/v1/gtt"


def gtt_body(account, **overrides):
    body = {
        "account": str(account.pk),
        "symbol": "ACME",
        "trigger_type": "single",
        "trigger_values": ["95"],
        "orders": [{"side": "buy", "qty": "10", "type": "limit", "limit_price": "95.5"}],
    }
    body.update(overrides)
    return body


def test_single_gtt_fires_once_at_the_right_tick_and_not_again(
    client, paper, quoted, tick, submit, captured
):
    # given a buy GTT at 95 created with the market at 100 (below: fires on last <= 95)
    response = client.post(URL, gtt_body(paper), format="json")
    assert response.status_code == 201, response.json()
    gtt = response.json()
    assert gtt["status"] == "active" and gtt["order_ids"] == []
    assert gtt["triggers"][0]["direction"] == "down"
    assert gtt["last_price"] == "100"
    expires = timezone.datetime.fromisoformat(gtt["expires_at"])
    assert timedelta(days=364) < expires - timezone.now() <= timedelta(days=365)
    # when the price falls to 95.05, nothing fires
    with submit():
        tick(last="95.05", bid="95", ask="95.1")
    assert client.get(f"{URL}/{gtt['id']}").json()["status"] == "active"
    assert not Order.objects.filter(account=paper).exists()
    # when it reaches 95 the GTT fires and places its limit order, which the paper broker fills
    with submit():
        tick(last="95", bid="94.95", ask="95.05")
    fired = client.get(f"{URL}/{gtt['id']}").json()
    assert fired["status"] == "triggered"
    assert fired["triggered_price"] == "95"
    assert len(fired["order_ids"]) == 1
    order = Order.objects.get(pk=fired["order_ids"][0])
    assert (order.side, order.type, order.qty, order.limit_price) == (
        "buy",
        "limit",
        Decimal("10"),
        Decimal("95.5"),
    )
    assert order.status == "filled" and order.gtt_id is not None
    # and a further crossing tick fires nothing more
    with submit():
        tick(last="94", bid="93.95", ask="94.05")
        tick(last="95", bid="94.95", ask="95.05")
    assert Order.objects.filter(account=paper).count() == 1
    assert client.get(f"{URL}/{gtt['id']}").json()["order_ids"] == fired["order_ids"]
    history = [e["type"] for e in client.get(f"{URL}/{gtt['id']}/events").json()["results"]]
    assert history == ["created", "triggered"]
    # the changes were pushed on the gtt channel
    gtt_pushes = [data["status"] for channel, event, data in captured if channel == "gtt"]
    assert gtt_pushes[0] == "active" and gtt_pushes[-1] == "triggered"
    assert {event for channel, event, _ in captured if channel == "gtt"} == {"gtt.updated"}


def test_oco_gtt_places_the_leg_that_triggers_and_cancels_the_other(
    client, paper, quoted, tick, submit
):
    # given a position of 10 and an oco GTT: stop-loss sell at 90, target sell at 110
    body = gtt_body(
        paper,
        trigger_type="oco",
        trigger_values=["90", "110"],
        orders=[
            {"side": "sell", "qty": "10", "type": "market"},
            {"side": "sell", "qty": "10", "type": "limit", "limit_price": "109.5"},
        ],
    )
    response = client.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    gtt = response.json()
    assert [t["direction"] for t in gtt["triggers"]] == ["down", "up"]
    # when the market rises through the target
    with submit():
        tick(last="110.5", bid="110.45", ask="110.55")
    fired = client.get(f"{URL}/{gtt['id']}").json()
    # then only the target order is placed (and filled at the bid), the stop trigger is gone
    assert fired["status"] == "triggered" and fired["triggered_leg"] == 1
    order = Order.objects.get(pk=fired["order_ids"][0])
    assert (order.side, order.type, order.limit_price, order.status) == (
        "sell",
        "limit",
        Decimal("109.5"),
        "filled",
    )
    gtt_row = Gtt.objects.get(pk=gtt["id"])
    assert sorted(Trigger.objects.filter(gtt=gtt_row).values_list("status", flat=True)) == [
        "canceled",
        "fired",
    ]
    with submit():
        tick(last="89", bid="88.95", ask="89.05")
    assert Order.objects.filter(account=paper).count() == 1


def test_a_refused_placement_marks_the_gtt_rejected_with_the_reason(
    client, trader, quoted, tick, submit
):
    # given a paper account with little cash
    poor = account_with_member(user=trader, broker="paper", cash=Decimal("500"), name="Poor")
    response = client.post(URL, gtt_body(poor), format="json")
    assert response.status_code == 201
    # when the GTT fires, the buy of 10 × 95.5 is more than the buying power
    with submit():
        tick(last="95", bid="94.95", ask="95.05")
    gtt = client.get(f"{URL}/{response.json()['id']}").json()
    assert gtt["status"] == "rejected"
    assert "buying power" in gtt["reason"] and gtt["reject_reason"] == gtt["reason"]
    (order_id,) = gtt["order_ids"]
    assert Order.objects.get(pk=order_id).status == "rejected"
    types = [e["type"] for e in client.get(f"{URL}/{gtt['id']}/events").json()["results"]]
    assert types == ["created", "triggered", "rejected"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"trigger_values": ["100"]}, "trigger_values.0"),  # equals the last price
        ({"trigger_values": ["95.03"]}, "trigger_values.0"),  # off the 0.05 grid
        ({"trigger_values": ["95", "96"]}, "trigger_values"),  # single takes one
        (
            {
                "trigger_type": "oco",
                "trigger_values": ["101", "110"],  # both above the market
                "orders": [
                    {"side": "sell", "qty": "1", "type": "market"},
                    {"side": "sell", "qty": "1", "type": "market"},
                ],
            },
            "trigger_values",
        ),
        ({"orders": [{"side": "buy", "qty": "10", "type": "limit"}]}, "orders.0.limit_price"),
        ({"orders": [{"side": "buy", "qty": "0", "type": "market"}]}, "orders.0.qty"),
        ({"trigger_type": "twice"}, "trigger_type"),
        ({"symbol": "NOPE"}, "symbol"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ],
)
def test_bad_gtt_input_is_400_naming_the_field_and_stores_nothing(
    client, paper, quoted, overrides, field
):
    response = client.post(URL, gtt_body(paper, **overrides), format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert not Gtt.objects.exists()


def test_no_last_price_is_a_clear_400(client, paper, acme):
    response = client.post(URL, gtt_body(paper), format="json")
    assert response.status_code == 400
    assert "last price" in response.json()["error"]["message"]


def test_modify_while_active_moves_the_trigger_then_409_once_triggered(
    client, paper, quoted, tick, submit
):
    gtt = client.post(URL, gtt_body(paper), format="json").json()
    # when the trigger moves to 97 (still below the market)
    response = client.patch(f"{URL}/{gtt['id']}", {"trigger_values": ["97"]}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["trigger_values"] == ["97"]
    active = Trigger.objects.get(gtt_id=gtt["id"], status="active")
    assert (active.price, active.direction) == (Decimal("97"), "down")
    # then a tick at 97 fires it (the old 95 level is gone)
    with submit():
        tick(last="97", bid="96.95", ask="97.05")
    assert client.get(f"{URL}/{gtt['id']}").json()["status"] == "triggered"
    again = client.patch(f"{URL}/{gtt['id']}", {"trigger_values": ["90"]}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_state"
    history = [e["type"] for e in client.get(f"{URL}/{gtt['id']}/events").json()["results"]]
    assert history == ["created", "modified", "triggered"]


def test_cancel_makes_it_cancelled_and_it_never_fires(client, paper, quoted, tick, submit):
    gtt = client.post(URL, gtt_body(paper), format="json").json()
    response = client.delete(f"{URL}/{gtt['id']}")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    with submit():
        tick(last="90", bid="89.95", ask="90.05")
    assert not Order.objects.filter(account=paper).exists()
    assert client.delete(f"{URL}/{gtt['id']}").status_code == 409


def test_expiry_job_expires_due_gtts(client, paper, quoted):
    soon = (timezone.now() + timedelta(minutes=5)).isoformat()
    gtt = client.post(URL, gtt_body(paper, expires_at=soon), format="json").json()
    later = client.post(URL, gtt_body(paper), format="json").json()
    assert gtts_expire_due(now=timezone.now()) == []
    expired = gtts_expire_due(now=timezone.now() + timedelta(minutes=6))
    assert expired == [gtt["id"]]
    assert client.get(f"{URL}/{gtt['id']}").json()["status"] == "expired"
    assert client.get(f"{URL}/{later['id']}").json()["status"] == "active"
    assert not Trigger.objects.filter(gtt_id=gtt["id"], status="active").exists()


def test_other_users_gtts_are_invisible_and_view_only_cannot_write(
    client, make_key_client, paper, quoted
):
    gtt = client.post(URL, gtt_body(paper), format="json").json()
    stranger = make_key_client(UserFactory(username="stranger", role="trader"))
    assert stranger.get(f"{URL}/{gtt['id']}").status_code == 404
    assert stranger.delete(f"{URL}/{gtt['id']}").status_code == 404
    assert stranger.get(URL).json()["count"] == 0
    # a GTT on an account you cannot see: 400 naming account, nothing stored
    response = stranger.post(URL, gtt_body(paper), format="json")
    assert response.status_code == 400 and "account" in response.json()["error"]["fields"]
    # a view-only member sees it but may not change it
    viewer = UserFactory(username="watcher", role="viewer")
    from accounts import services as account_services

    account_services.membership_set(actor=None, account=paper, user=viewer, role="view")
    viewer_client = make_key_client(viewer)
    assert viewer_client.get(f"{URL}/{gtt['id']}").status_code == 200
    assert viewer_client.delete(f"{URL}/{gtt['id']}").status_code == 403
    assert viewer_client.post(URL, gtt_body(paper), format="json").status_code == 403
    assert Gtt.objects.count() == 1


def test_list_filters_by_status(client, paper, quoted):
    first = client.post(URL, gtt_body(paper), format="json").json()
    client.post(URL, gtt_body(paper, trigger_values=["105"]), format="json")
    client.delete(f"{URL}/{first['id']}")
    assert client.get(URL, {"status": "open"}).json()["count"] == 1
    assert client.get(URL, {"status": "cancelled"}).json()["count"] == 1
    assert client.get(URL).json()["count"] == 2
    assert client.get(URL, {"status": "bogus"}).status_code == 400
