"""Execution algorithms through the API on the paper broker: TWAP slices on schedule, the
catch-up of resting limit slices, VWAP weights from bars, iceberg children one after
another, pause / resume / cancel, progress on the parent."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from marketdata.models import Bar
from orders.automation.algo_runner import algo_step, algos_run_due
from orders.core.lifecycle import order_replay, order_state
from orders.models import Order
from tests.orders.conftest import order_body

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders"


def twap(account, **overrides):
    values = {
        "type": "market",
        "qty": "100",
        "limit_price": None,
        "algo": {"type": "twap", "horizon_secs": 60, "interval_secs": 20},
    }
    return order_body(account, **(values | overrides))


def children(parent_id):
    return list(Order.objects.filter(parent_id=parent_id).order_by("created_at", "id"))


def test_twap_parent_finishes_on_schedule_with_children_adding_up(client, paper, quoted, submit):
    # given a TWAP buy of 100 over 60 s in 20 s slices
    with submit():
        response = client.post(URL, twap(paper), format="json")
    assert response.status_code == 201, response.json()
    parent = Order.objects.get(pk=response.json()["id"])
    start = parent.created_at
    # then the first slice went out at once and filled (market child on the paper broker)
    first = children(parent.pk)
    assert len(first) == 1 and first[0].status == "filled" and first[0].leg_role == "slice"
    body = client.get(f"{URL}/{parent.pk}").json()
    assert body["status"] == "partially_filled"
    assert body["algo"]["state"] == "running" and body["algo"]["slices_total"] == 3
    assert Decimal(body["algo"]["filled_qty"]) == first[0].qty
    assert Decimal(body["algo"]["remaining_qty"]) == 100 - first[0].qty
    # nothing more before the next slice is due
    with submit():
        assert algos_run_due(now=start + timedelta(seconds=19)) == []
    assert len(children(parent.pk)) == 1
    # when the second and third slices come due, each sends its slice
    with submit():
        algos_run_due(now=start + timedelta(seconds=20))
    with submit():
        algos_run_due(now=start + timedelta(seconds=40))
    kids = children(parent.pk)
    assert len(kids) == 3
    # then the children's fills add up to the parent's quantity and the parent is filled
    assert sum(k.filled_qty for k in kids) == Decimal("100")
    parent.refresh_from_db()
    assert parent.status == "filled" and parent.filled_qty == Decimal("100")
    assert parent.algo_state == "done"
    # slices are randomised within ±20 % of the even share (33.3)
    assert all(Decimal("26") <= k.qty <= Decimal("41") for k in kids)
    # the parent's average is the children's
    notional = sum(k.filled_qty * k.avg_fill_price for k in kids)
    assert parent.avg_fill_price == (notional / 100).quantize(Decimal("0.00000001"))
    assert order_replay(parent.events.order_by("seq")) == order_state(parent)
    # running the same step again places nothing more
    with submit():
        algos_run_due(now=start + timedelta(seconds=45))
        algo_step(parent_id=parent.pk, now=start + timedelta(seconds=45))
    assert len(children(parent.pk)) == 3


def test_resting_limit_slices_are_withdrawn_and_caught_up_then_the_rest_ends(
    client, paper, quoted, tick, submit
):
    # given a limit TWAP buy at 99 (below the market): its children rest
    body = twap(paper, type="limit", limit_price="99")
    with submit():
        parent = Order.objects.get(pk=client.post(URL, body, format="json").json()["id"])
    start = parent.created_at
    (first,) = children(parent.pk)
    assert first.status == "new" and first.type == "limit" and first.limit_price == Decimal("99")
    # when the second slice is due, the unfilled first child is withdrawn and slice 2 carries
    # both slices' quantity
    with submit():
        algos_run_due(now=start + timedelta(seconds=20))
    first.refresh_from_db()
    second = children(parent.pk)[1]
    assert first.status == "canceled"
    sizes = [Decimal(s) for s in parent.algo["slices"]]
    assert second.qty == sizes[0] + sizes[1]
    # when the market trades down to 99, it fills
    with submit():
        tick(last="98.9", bid="98.85", ask="98.95")
    second.refresh_from_db()
    assert second.status == "filled"
    # when the horizon ends after the last slice, what did not fill is withdrawn
    with submit():
        tick(last="100", bid="99.95", ask="100.05")
        algos_run_due(now=start + timedelta(seconds=40))
    third = children(parent.pk)[2]
    assert third.qty == sizes[2] and third.status == "new"
    with submit():
        algos_run_due(now=start + timedelta(seconds=60))
    parent.refresh_from_db()
    third.refresh_from_db()
    assert third.status == "canceled"
    assert parent.status == "canceled" and parent.algo_state == "done"
    assert parent.filled_qty == second.qty
    assert parent.events.filter(type="canceled").get().data["reason"] == "algo_ended"


def test_vwap_slices_follow_the_volume_profile_of_past_bars(client, paper, quoted, submit):
    # given past bars: the next three minutes of the day traded 1 : 2 : 5 (two days back,
    # so a run just before midnight UTC still finds them all before today)
    now = timezone.now().replace(second=0, microsecond=0)
    for offset, volume in ((0, 100), (1, 200), (2, 500)):
        Bar.objects.create(
            instrument=quoted,
            ts=now - timedelta(days=2) + timedelta(minutes=offset),
            open=100,
            high=100,
            low=100,
            close=100,
            volume=volume,
        )
    body = twap(paper, algo={"type": "vwap", "horizon_secs": 180, "interval_secs": 60}, qty="80")
    with submit():
        response = client.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    parent = Order.objects.get(pk=response.json()["id"])
    sizes = [Decimal(s) for s in parent.algo["slices"]]
    # then the slices follow the profile (started within the first minute: ~1:2:5)
    assert sum(sizes) == Decimal("80")
    assert sizes[0] < sizes[1] < sizes[2]
    assert sizes[2] >= Decimal("40")


def test_vwap_without_history_is_even(client, paper, quoted, submit):
    body = twap(paper, algo={"type": "vwap", "horizon_secs": 90, "interval_secs": 30}, qty="90")
    with submit():
        parent = Order.objects.get(pk=client.post(URL, body, format="json").json()["id"])
    assert parent.algo["slices"] == ["30", "30", "30"]


def test_iceberg_releases_display_sized_children_one_after_another(
    client, paper, quoted, tick, submit
):
    # given an iceberg buy of 30 at 99 showing 10 at a time
    body = order_body(
        paper, qty="30", limit_price="99", algo={"type": "iceberg", "display_qty": "10"}
    )
    with submit():
        parent = Order.objects.get(pk=client.post(URL, body, format="json").json()["id"])
    (first,) = children(parent.pk)
    assert (first.qty, first.status, first.type) == (Decimal("10"), "new", "limit")
    # when the market crosses the limit, each child fills and the next one follows
    with submit():
        tick(last="98.9", bid="98.85", ask="98.95")
    kids = children(parent.pk)
    assert [k.qty for k in kids] == [Decimal("10")] * 3
    assert all(k.status == "filled" for k in kids)
    # one after another: each child was placed after the previous one had filled
    for before, after in itertools.pairwise(kids):
        assert after.created_at >= before.filled_at
    parent.refresh_from_db()
    assert parent.status == "filled" and parent.filled_qty == Decimal("30")


def test_pause_withdraws_children_and_stops_slicing_until_resumed(client, paper, quoted, submit):
    body = twap(paper, type="limit", limit_price="99")
    with submit():
        parent_id = client.post(URL, body, format="json").json()["id"]
    start = Order.objects.get(pk=parent_id).created_at
    with submit():
        response = client.post(f"{URL}/{parent_id}/pause")
    assert response.status_code == 200, response.json()
    assert response.json()["algo"]["state"] == "paused"
    assert [k.status for k in children(parent_id)] == ["canceled"]
    with submit():
        assert algos_run_due(now=start + timedelta(seconds=30)) == []
    assert len(children(parent_id)) == 1
    # pausing twice is a conflict; resuming sends the slice that is due now
    assert client.post(f"{URL}/{parent_id}/pause").status_code == 409
    with submit():
        response = client.post(f"{URL}/{parent_id}/resume")
    assert response.status_code == 200 and response.json()["algo"]["state"] == "running"
    kids = children(parent_id)
    assert len(kids) == 2 and kids[1].status == "new"
    assert client.post(f"{URL}/{parent_id}/resume").status_code == 409


def test_cancelling_the_parent_cancels_its_working_children(client, paper, quoted, submit):
    with submit():
        parent_id = client.post(
            URL, twap(paper, type="limit", limit_price="99"), format="json"
        ).json()["id"]
    with submit():
        response = client.delete(f"{URL}/{parent_id}")
    assert response.status_code == 200 and response.json()["status"] == "canceled"
    assert [k.status for k in children(parent_id)] == ["canceled"]
    with submit():
        algos_run_due(now=timezone.now() + timedelta(minutes=5))
    assert len(children(parent_id)) == 1
    # an algo parent cannot be modified
    assert client.patch(f"{URL}/{parent_id}", {"qty": "50"}, format="json").status_code == 409


def test_a_rejected_child_stops_the_algo(client, paper, quoted, submit):
    from accounts.models import GlobalKillSwitch

    # given a running TWAP whose first slice went out
    with submit():
        parent_id = client.post(URL, twap(paper), format="json").json()["id"]
    start = Order.objects.get(pk=parent_id).created_at
    # when trading is halted and the next slice is refused by the risk checks
    GlobalKillSwitch.objects.update_or_create(pk=1, defaults={"engaged": True})
    with submit():
        algos_run_due(now=start + timedelta(seconds=20))
    kids = children(parent_id)
    assert [k.status for k in kids] == ["filled", "rejected"]
    # then the algo stops: the parent is cancelled for the rest, with the reason
    parent = client.get(f"{URL}/{parent_id}").json()
    assert parent["status"] == "canceled"
    assert parent["algo"]["state"] == "stopped"
    assert "kill switch" in parent["algo"]["reason"]
    with submit():
        algos_run_due(now=start + timedelta(seconds=40))
    assert len(children(parent_id)) == 2


@pytest.mark.parametrize(
    ("algo", "field"),
    [
        ({"type": "sliced"}, "algo.type"),
        ({"type": "twap", "horizon_secs": 10, "interval_secs": 20}, "algo.interval_secs"),
        ({"type": "twap", "interval_secs": 20}, "algo.horizon_secs"),
        ({"type": "twap", "horizon_secs": 60, "interval_secs": 20, "speed": 2}, "algo.speed"),
        ({"type": "iceberg"}, "algo.display_qty"),
        ({"type": "iceberg", "display_qty": "200"}, "algo.display_qty"),
    ],
)
def test_bad_algo_parameters_are_400_naming_the_field(client, paper, quoted, algo, field):
    response = client.post(URL, order_body(paper, qty="100", algo=algo), format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert not Order.objects.exists()


def test_an_algo_is_a_simple_market_or_limit_order(client, paper, quoted):
    body = order_body(
        paper,
        type="stop",
        limit_price=None,
        stop_price="105",
        algo={"type": "twap", "horizon_secs": 60, "interval_secs": 20},
    )
    response = client.post(URL, body, format="json")
    assert response.status_code == 400 and "type" in response.json()["error"]["fields"]


def test_other_users_cannot_pause(client, make_key_client, paper, quoted, submit):
    from tests.factories import UserFactory

    with submit():
        parent_id = client.post(URL, twap(paper, type="limit", limit_price="99"), format="json")
    parent_id = parent_id.json()["id"]
    stranger = make_key_client(UserFactory(username="eve", role="trader"))
    assert stranger.post(f"{URL}/{parent_id}/pause").status_code == 404
    assert Order.objects.get(pk=parent_id).algo_state == "running"
