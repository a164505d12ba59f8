"""PATCH / DELETE /api/v1/orders/{id}, DELETE /api/v1/orders?account=: modify in place,
cancel, cancel all — held orders locally, live orders at the venue."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.core.lifecycle import order_replay, order_state
from orders.models import Order, OrderStatus, Trigger
from tests.factories import MembershipFactory, account_with_member
from tests.orders.factories import place

pytestmark = pytest.mark.django_db


def url(order) -> str:
    return f"/api/v1/orders/{order.pk}"


@pytest.fixture
def working(trader, account, quoted, fake_broker, submit):
    with submit():
        order = place(trader, account)
    order.refresh_from_db()
    assert order.status == OrderStatus.NEW
    return order


@pytest.fixture
def held_stop(trader, account, quoted, fake_broker):
    return place(trader, account, order_type="stop_limit", stop_price="105", limit_price="106")


def unchanged(order) -> tuple:
    fresh = Order.objects.get(pk=order.pk)
    return (
        fresh.status,
        fresh.qty,
        fresh.limit_price,
        fresh.stop_price,
        fresh.version,
        fresh.event_seq,
    )


# --- modify ---------------------------------------------------------------------------------------


def test_modify_a_live_order_goes_through_the_venue(client, working, fake_broker):
    response = client.patch(url(working), {"qty": "20", "limit_price": "99.5"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["id"] == str(working.pk)
    assert body["qty"] == "20" and body["limit_price"] == "99.5" and body["version"] == 2
    sent = fake_broker.modified[0]
    assert sent.new_qty == Decimal("20") and sent.new_limit_price == Decimal("99.5")
    working.refresh_from_db()
    modified = working.events.get(type="modified")
    assert modified.data["changes"] == {"qty": ["10", "20"], "limit_price": ["100", "99.5"]}
    assert order_replay(working.events.order_by("seq")) == order_state(working)


def test_modify_a_held_stop_changes_it_locally_and_moves_its_trigger(
    client, held_stop, fake_broker
):
    response = client.patch(url(held_stop), {"stop_price": "104"}, format="json")
    assert response.status_code == 200
    assert response.json()["stop_price"] == "104" and response.json()["version"] == 2
    assert fake_broker.modified == []
    assert Trigger.objects.get(order=held_stop, status="active").price == Decimal("104")


def test_venue_refusing_the_modification_is_409_and_the_order_stays(client, working, fake_broker):
    fake_broker.modify_mode = "reject"
    before = unchanged(working)
    response = client.patch(url(working), {"qty": "20"}, format="json")
    assert response.status_code == 409
    after = unchanged(working)
    assert after[:5] == before[:5]  # only audit events were added
    assert Order.objects.get(pk=working.pk).pending_modify is None


def test_modify_with_the_broker_down_is_503(client, working, fake_broker):
    fake_broker.modify_mode = "unavailable"
    response = client.patch(url(working), {"qty": "20"}, format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "broker_unavailable"
    fresh = Order.objects.get(pk=working.pk)
    assert fresh.qty == 10 and fresh.pending_modify is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"qty": "0"}, "qty"),
        ({"qty": "-3"}, "qty"),
        ({"qty": "x"}, "qty"),
        ({"limit_price": "100.01"}, "limit_price"),
        ({"limit_price": "-1"}, "limit_price"),
        ({"stop_price": "101"}, "stop_price"),  # a limit order has no stop
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_modification_is_400_and_changes_nothing(client, working, fake_broker, body, field):
    before = unchanged(working)
    response = client.patch(url(working), body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"].get("fields", {})
    assert unchanged(working) == before
    assert fake_broker.modified == []


def test_empty_modification_is_400(client, working):
    assert client.patch(url(working), {}, format="json").status_code == 400


def test_qty_below_filled_is_400(client, working):
    from orders.services import order_apply_report
    from tests.orders.fakes import report

    order_apply_report(
        report(working.pk, "partial_fill", fill_qty=Decimal("6"), fill_price=Decimal("100"))
    )
    before = unchanged(working)
    response = client.patch(url(working), {"qty": "5"}, format="json")
    assert response.status_code == 400
    assert "filled" in response.json()["error"]["fields"]["qty"][0]
    assert unchanged(working) == before


def test_modify_a_terminal_order_is_409(client, trader, working, fake_broker):
    client.delete(url(working))
    before = unchanged(working)
    response = client.patch(url(working), {"qty": "20"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_state"
    assert unchanged(working) == before


def test_modification_failing_a_limit_is_422_and_the_order_stays(
    client, working, limits, fake_broker
):
    limits.max_order_qty = Decimal("15")
    limits.save()
    response = client.patch(url(working), {"qty": "20"}, format="json")
    assert response.status_code == 422
    assert response.json()["order_id"] == str(working.pk)
    fresh = Order.objects.get(pk=working.pk)
    assert fresh.status == OrderStatus.NEW and fresh.qty == 10
    assert fake_broker.modified == []


# --- cancel ---------------------------------------------------------------------------------------


def test_cancel_a_live_order(client, working, fake_broker):
    response = client.delete(url(working))
    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    assert fake_broker.canceled == [str(working.pk)]
    types = list(Order.objects.get(pk=working.pk).events.values_list("type", flat=True))
    assert types[-2:] == ["cancel_requested", "canceled"]


def test_cancel_answers_pending_cancel_while_the_venue_is_working_on_it(
    client, working, fake_broker
):
    fake_broker.cancel_mode = "silent"
    response = client.delete(url(working))
    assert response.status_code == 200
    assert response.json()["status"] == "pending_cancel"


def test_cancel_a_held_order_is_immediate_and_cancels_its_trigger(client, held_stop, fake_broker):
    response = client.delete(url(held_stop))
    assert response.status_code == 200 and response.json()["status"] == "canceled"
    assert fake_broker.canceled == []
    assert Trigger.objects.get(order=held_stop).status == "canceled"


def test_cancel_twice_is_409(client, held_stop):
    client.delete(url(held_stop))
    response = client.delete(url(held_stop))
    assert response.status_code == 409


def test_cancel_with_the_broker_down_is_503_and_the_order_keeps_working(
    client, working, fake_broker
):
    fake_broker.cancel_mode = "unavailable"
    response = client.delete(url(working))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "broker_unavailable"
    assert Order.objects.get(pk=working.pk).status == OrderStatus.NEW


# --- access ---------------------------------------------------------------------------------------


def test_someone_elses_order_is_404_for_read_modify_cancel(make_key_client, other_user, working):
    client = make_key_client(other_user)
    before = unchanged(working)
    assert client.get(url(working)).status_code == 404
    assert client.patch(url(working), {"qty": "20"}, format="json").status_code == 404
    assert client.delete(url(working)).status_code == 404
    assert client.get(url(working) + "/events").status_code == 404
    assert unchanged(working) == before


def test_view_only_member_may_read_but_not_change(make_key_client, other_user, working):
    MembershipFactory(user=other_user, account=working.account, role="view")
    client = make_key_client(other_user)
    before = unchanged(working)
    assert client.get(url(working)).status_code == 200
    assert client.patch(url(working), {"qty": "20"}, format="json").status_code == 403
    assert client.delete(url(working)).status_code == 403
    assert unchanged(working) == before


def test_malformed_order_id_is_404(client):
    assert client.get("/api/v1/orders/not-a-uuid").status_code == 404


# --- cancel all -----------------------------------------------------------------------------------


def test_cancel_all_cancels_open_orders_of_the_account_and_symbol(
    client, trader, account, quoted, tick, fake_broker, submit
):
    from tests.marketdata.factories import InstrumentFactory

    InstrumentFactory(symbol="FOO", exchange=quoted.exchange)
    tick("FOO", last="50")
    with submit():
        a = place(trader, account)
        b = place(trader, account, symbol="FOO", limit_price="50")
    held = place(trader, account, order_type="stop", limit_price=None, stop_price="105")
    response = client.delete(f"/api/v1/orders?account={account.pk}&symbol=ACME")
    assert response.status_code == 200
    assert sorted(response.json()["canceled"]) == sorted([str(a.pk), str(held.pk)])
    assert Order.objects.get(pk=b.pk).status == OrderStatus.NEW
    everything = client.delete(f"/api/v1/orders?account={account.pk}")
    assert everything.json()["canceled"] == [str(b.pk)]


def test_cancel_all_of_someone_elses_account_is_404(make_key_client, other_user, working):
    response = make_key_client(other_user).delete(f"/api/v1/orders?account={working.account_id}")
    assert response.status_code == 404
    assert Order.objects.get(pk=working.pk).status == OrderStatus.NEW


def test_cancel_all_needs_an_account(client):
    assert client.delete("/api/v1/orders").status_code == 400


def test_other_accounts_orders_are_not_touched_by_cancel_all(
    client, trader, account, working, fake_broker
):
    second = account_with_member(user=trader, broker="fake")
    other = place(trader, second)
    client.delete(f"/api/v1/orders?account={account.pk}")
    assert Order.objects.get(pk=other.pk).status == OrderStatus.PENDING_NEW
