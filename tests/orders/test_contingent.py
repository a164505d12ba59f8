"""Brackets, OCO pairs and OTO entries: legs linked to their parent, created when the entry
fills and sized to it, one member filling cancels (or resizes) the other."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.core.lifecycle import order_replay, order_state
from orders.models import Order, Trigger
from tests.orders.conftest import order_body
from tests.orders.fakes import report

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders"


def bracket(account, **overrides):
    values = {
        "order_class": "bracket",
        "limit_price": "99",
        "take_profit": {"limit_price": "105"},
        "stop_loss": {"stop_price": "95"},
    }
    return order_body(account, **(values | overrides))


def legs_by_role(order_json):
    return {leg["leg_role"]: leg for leg in order_json["legs"]}


# --- on the paper broker, end to end -----------------------------------------------------------


def test_bracket_legs_go_live_only_after_the_entry_fills_and_carry_its_qty(
    client, paper, quoted, tick, submit
):
    # given a buy bracket whose entry limit 99 rests below the market
    with submit():
        response = client.post(URL, bracket(paper), format="json")
    assert response.status_code == 201, response.json()
    entry = client.get(f"{URL}/{response.json()['id']}").json()
    assert entry["status"] == "new"
    # its legs are there, held while they wait for the entry, nothing armed or sent
    waiting = legs_by_role(entry)
    assert {leg["status"] for leg in waiting.values()} == {"held"}
    assert {leg["hold_reason"] for leg in waiting.values()} == {"parent"}
    assert not Trigger.objects.filter(order_id=waiting["stop_loss"]["id"]).exists()
    # a move before the entry fills changes nothing for the legs
    with submit():
        tick(last="99.5", bid="99.45", ask="99.55")
    assert Order.objects.get(pk=waiting["take_profit"]["id"]).submitted_at is None
    # when the market comes down to the entry, it fills at the ask
    with submit():
        tick(last="98.9", bid="98.85", ask="98.95")
    entry = client.get(f"{URL}/{entry['id']}").json()
    assert entry["status"] == "filled" and entry["filled_qty"] == "10"
    # then the take-profit and stop-loss legs exist, sized to the fill, as one OCO pair
    legs = legs_by_role(entry)
    assert set(legs) == {"take_profit", "stop_loss"}
    tp, sl = legs["take_profit"], legs["stop_loss"]
    assert (tp["side"], tp["type"], tp["qty"], tp["limit_price"], tp["status"]) == (
        "sell",
        "limit",
        "10",
        "105",
        "new",
    )
    assert (sl["side"], sl["type"], sl["qty"], sl["stop_price"], sl["status"]) == (
        "sell",
        "stop",
        "10",
        "95",
        "held",
    )
    assert tp["parent_id"] == sl["parent_id"] == entry["id"]
    assert tp["oco_group"] == sl["oco_group"] is not None
    # when the take-profit fills, the stop-loss is cancelled and its trigger is gone
    with submit():
        tick(last="105.1", bid="105.05", ask="105.15")
    tp_row, sl_row = Order.objects.get(pk=tp["id"]), Order.objects.get(pk=sl["id"])
    assert tp_row.status == "filled" and sl_row.status == "canceled"
    assert sl_row.cancel_reason == "oco"
    assert not Trigger.objects.filter(order=sl_row, status="active").exists()
    # and a later fall through the stop does nothing
    with submit():
        tick(last="94", bid="93.95", ask="94.05")
    assert Order.objects.filter(account=paper).count() == 3
    for row in (tp_row, sl_row, Order.objects.get(pk=entry["id"])):
        row.refresh_from_db()
        assert order_replay(row.events.order_by("seq")) == order_state(row)


def test_bracket_stop_loss_triggers_and_the_take_profit_is_cancelled(
    client, paper, quoted, tick, submit
):
    with submit():
        entry = client.post(URL, bracket(paper, limit_price="100.05"), format="json").json()
    entry = client.get(f"{URL}/{entry['id']}").json()
    assert entry["status"] == "filled"  # marketable: filled at once at the ask
    legs = legs_by_role(entry)
    # when the market falls through the stop
    with submit():
        tick(last="94.9", bid="94.85", ask="94.95")
    sl = Order.objects.get(pk=legs["stop_loss"]["id"])
    tp = Order.objects.get(pk=legs["take_profit"]["id"])
    # then the stop-loss sells 10 at the bid and the take-profit is withdrawn
    assert sl.status == "filled" and sl.avg_fill_price == Decimal("94.85")
    assert tp.status == "canceled"
    assert [e for e in sl.events.values_list("type", flat=True)][:2] == ["created", "triggered"]


def test_oco_second_leg_is_cancelled_when_the_first_fills(client, paper, quoted, tick, submit):
    # given an oco sell: take-profit limit 110 working at the venue, stop at 90 held
    body = order_body(
        paper,
        side="sell",
        order_class="oco",
        limit_price=None,
        take_profit={"limit_price": "110"},
        stop_loss={"stop_price": "90"},
    )
    with submit():
        response = client.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    parent = client.get(f"{URL}/{response.json()['id']}").json()
    assert (parent["type"], parent["limit_price"], parent["status"]) == ("limit", "110", "new")
    (sl,) = parent["legs"]
    assert (sl["leg_role"], sl["type"], sl["stop_price"], sl["status"]) == (
        "stop_loss",
        "stop",
        "90",
        "held",
    )
    # when the take-profit fills
    with submit():
        tick(last="110.1", bid="110.05", ask="110.15")
    parent = client.get(f"{URL}/{parent['id']}").json()
    assert parent["status"] == "filled"
    assert parent["legs"][0]["status"] == "canceled"


def test_oco_rules_the_legs_prices(client, paper, quoted):
    # a sell oco's take-profit must be above the market and its stop below
    body = order_body(
        paper,
        side="sell",
        order_class="oco",
        limit_price=None,
        take_profit={"limit_price": "99"},
        stop_loss={"stop_price": "101"},
    )
    response = client.post(URL, body, format="json")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert {"take_profit.limit_price", "stop_loss.stop_price"} <= set(fields)
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"take_profit": {"limit_price": "98"}}, "take_profit.limit_price"),  # below the entry
        ({"stop_loss": {"stop_price": "99.5"}}, "stop_loss.stop_price"),  # above the entry
        (
            {"stop_loss": {"stop_price": "95", "limit_price": "95.5"}},
            "stop_loss.limit_price",
        ),
        ({"stop_loss": None}, "stop_loss"),
    ],
)
def test_bracket_leg_prices_are_validated_against_the_entry(
    client, paper, quoted, overrides, field
):
    body = bracket(paper)
    body.update(overrides)
    body = {k: v for k, v in body.items() if v is not None}
    response = client.post(URL, body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert not Order.objects.exists()


def test_sell_bracket_mirrors_the_rules(client, paper, quoted, tick, submit):
    body = order_body(
        paper,
        side="sell",
        order_class="bracket",
        limit_price="99.95",
        take_profit={"limit_price": "95"},
        stop_loss={"stop_price": "104"},
    )
    with submit():
        entry = client.post(URL, body, format="json").json()
    entry = client.get(f"{URL}/{entry['id']}").json()
    assert entry["status"] == "filled"
    legs = legs_by_role(entry)
    assert legs["take_profit"]["side"] == legs["stop_loss"]["side"] == "buy"


def test_oto_entry_gets_its_single_leg_on_fill(client, paper, quoted, submit):
    body = order_body(
        paper, order_class="oto", limit_price="100.05", take_profit={"limit_price": "104"}
    )
    with submit():
        entry = client.post(URL, body, format="json").json()
    entry = client.get(f"{URL}/{entry['id']}").json()
    (leg,) = entry["legs"]
    assert (leg["leg_role"], leg["qty"], leg["oco_group"]) == ("take_profit", "10", None)


def test_cancelling_an_oco_parent_cancels_its_held_stop_leg(client, paper, quoted, submit):
    body = order_body(
        paper,
        side="sell",
        order_class="oco",
        limit_price=None,
        take_profit={"limit_price": "110"},
        stop_loss={"stop_price": "90"},
    )
    with submit():
        parent = client.post(URL, body, format="json").json()
    with submit():
        response = client.delete(f"{URL}/{parent['id']}")
    assert response.status_code == 200
    parent = client.get(f"{URL}/{parent['id']}").json()
    assert parent["status"] == "canceled"
    assert parent["legs"][0]["status"] == "canceled"


def test_cancelling_a_bracket_entry_before_any_fill_cancels_its_waiting_legs(
    client, paper, quoted, tick, submit
):
    with submit():
        entry = client.post(URL, bracket(paper), format="json").json()
    with submit():
        client.delete(f"{URL}/{entry['id']}")
    entry = client.get(f"{URL}/{entry['id']}").json()
    assert entry["status"] == "canceled"
    assert [leg["status"] for leg in entry["legs"]] == ["canceled", "canceled"]
    # a later crossing places nothing
    with submit():
        tick(last="94", bid="93.95", ask="94.05")
    assert not Order.objects.filter(account=paper, status__in=["new", "held"]).exists()


def test_a_rejected_bracket_entry_has_no_legs(client, trader, quoted, submit):
    from tests.factories import account_with_member

    poor = account_with_member(user=trader, broker="paper", cash=Decimal("10"), name="Poor")
    with submit():
        response = client.post(URL, bracket(poor), format="json")
    assert response.status_code == 422
    assert Order.objects.filter(account=poor).count() == 1


def test_a_legs_qty_cannot_be_changed_by_hand(client, paper, quoted, submit):
    with submit():
        entry = client.post(URL, bracket(paper, limit_price="100.05"), format="json").json()
    tp = legs_by_role(client.get(f"{URL}/{entry['id']}").json())["take_profit"]
    response = client.patch(f"{URL}/{tp['id']}", {"qty": "20"}, format="json")
    assert response.status_code == 400 and "qty" in response.json()["error"]["fields"]
    # its price may change
    response = client.patch(f"{URL}/{tp['id']}", {"limit_price": "106"}, format="json")
    assert response.status_code == 200, response.json()


# --- partial fills (the fake venue answers what the test says) --------------------------------


def fill_report(order_id, qty, price, report_type="partial_fill"):
    from orders.core.reports import order_apply_report

    return order_apply_report(
        report(order_id, report_type, fill_qty=Decimal(qty), fill_price=Decimal(price))
    )


def test_each_entry_fill_sizes_the_legs_and_a_leg_fill_resizes_its_sibling(
    client, account, short_ok_account, quoted, fake_broker, submit
):
    # given a bracket entry working at the venue
    with submit():
        entry = client.post(URL, bracket(account), format="json").json()
    # when 4 of 10 fill, legs of 4 appear
    with submit():
        fill_report(entry["id"], "4", "99")
    legs = legs_by_role(client.get(f"{URL}/{entry['id']}").json())
    assert legs["take_profit"]["qty"] == legs["stop_loss"]["qty"] == "4"
    # when 3 more fill, both grow to 7 (the working take-profit through a venue modify)
    with submit():
        fill_report(entry["id"], "3", "99")
    legs = legs_by_role(client.get(f"{URL}/{entry['id']}").json())
    assert legs["take_profit"]["qty"] == legs["stop_loss"]["qty"] == "7"
    assert [m.new_qty for m in fake_broker.modified] == [Decimal("7")]
    # when the take-profit fills 2, the stop-loss covers the 5 left
    with submit():
        fill_report(legs["take_profit"]["id"], "2", "105")
    legs = legs_by_role(client.get(f"{URL}/{entry['id']}").json())
    assert legs["stop_loss"]["qty"] == "5"
    assert legs["take_profit"]["qty"] == "7" and legs["take_profit"]["filled_qty"] == "2"
    # when the entry's last 3 fill, the pair grows: take-profit 2 + 8, stop-loss 8
    with submit():
        fill_report(entry["id"], "3", "99", "fill")
    legs = legs_by_role(client.get(f"{URL}/{entry['id']}").json())
    assert legs["stop_loss"]["qty"] == "8" and legs["take_profit"]["qty"] == "10"
    # when the take-profit fills the rest, the stop-loss is cancelled
    with submit():
        fill_report(legs["take_profit"]["id"], "8", "105", "fill")
    legs = legs_by_role(client.get(f"{URL}/{entry['id']}").json())
    assert legs["take_profit"]["status"] == "filled"
    assert legs["stop_loss"]["status"] == "canceled"
    for leg in legs.values():
        row = Order.objects.get(pk=leg["id"])
        assert order_replay(row.events.order_by("seq")) == order_state(row)


@pytest.fixture
def short_ok_account(account):
    from accounts.models import RiskLimits

    RiskLimits.objects.update_or_create(account=account, defaults={"allow_short": True})
    return account


def test_cancelling_a_waiting_leg_cancels_its_sibling(client, paper, quoted, submit):
    with submit():
        entry = client.post(URL, bracket(paper), format="json").json()
    legs = legs_by_role(client.get(f"{URL}/{entry['id']}").json())
    with submit():
        response = client.delete(f"{URL}/{legs['take_profit']['id']}")
    assert response.status_code == 200
    legs = legs_by_role(client.get(f"{URL}/{entry['id']}").json())
    assert legs["take_profit"]["status"] == legs["stop_loss"]["status"] == "canceled"
    assert client.get(f"{URL}/{entry['id']}").json()["status"] == "new"
