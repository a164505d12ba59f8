"""API.md § Orders, after placing: list filters, modify, cancel, cancel-all, batch, events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.api.helpers import assert_error, grant, open_account, order_body, paginated

TERMINAL = {"filled", "canceled", "rejected", "expired"}
OPEN = {"pending_new", "new", "held", "partially_filled", "pending_cancel"}


def _place(api, account, **fields) -> dict:
    response = api.post("/orders", order_body(account, **fields))
    assert response.status_code in (201, 422), response.content
    body = response.json()
    return api.get(f"/orders/{body.get('id') or body['order_id']}").json()


def _ids(response) -> set[str]:
    return {o["id"] for o in paginated(response)["results"]}


@pytest.fixture
def blotter(admin, alice, alice_account, acme):
    """Alice's orders: a resting buy, a resting sell (short allowed), a filled market buy, a
    cancelled buy, a risk-rejected buy, on ACME and FOO."""
    admin.patch(f"/accounts/{alice_account['id']}/risk-limits", {"allow_short": True})
    admin.post(
        "/instruments", {"symbol": "FOO", "exchange": "SIM", "tick_size": "0.05", "lot_size": 1}
    )
    admin.post("/market-data/ticks", {"symbol": "FOO", "last": "20", "bid": "19.95", "ask": "20"})
    resting_buy = _place(alice, alice_account, qty="1", limit_price="90")
    resting_sell = _place(alice, alice_account, side="sell", qty="1", limit_price="110")
    filled = _place(alice, alice_account, symbol="FOO", type="market", qty="1", limit_price=None)
    canceled = _place(alice, alice_account, qty="1", limit_price="91")
    alice.delete(f"/orders/{canceled['id']}")
    rejected = _place(alice, alice_account, qty="100000", limit_price="95")
    assert filled["status"] == "filled", filled
    assert rejected["status"] == "rejected", rejected
    return {
        "resting_buy": resting_buy["id"],
        "resting_sell": resting_sell["id"],
        "filled": filled["id"],
        "canceled": canceled["id"],
        "rejected": rejected["id"],
    }


# --- list and filters ---------------------------------------------------------------------------


def test_list_filters(alice, alice_account, blotter):
    b = blotter
    everything = set(b.values())
    # given Alice's blotter
    # when it is filtered
    # then each filter narrows as documented
    assert _ids(alice.get("/orders?status=all")) == everything
    assert _ids(alice.get("/orders?status=open")) == {b["resting_buy"], b["resting_sell"]}
    assert _ids(alice.get("/orders?status=closed")) == {b["filled"], b["canceled"], b["rejected"]}
    assert _ids(alice.get("/orders?status=filled")) == {b["filled"]}
    assert _ids(alice.get("/orders?status=rejected")) == {b["rejected"]}
    assert _ids(alice.get("/orders?symbol=FOO&status=all")) == {b["filled"]}
    assert _ids(alice.get("/orders?side=sell&status=all")) == {b["resting_sell"]}
    assert _ids(alice.get(f"/orders?account={alice_account['id']}&status=all")) == everything


def test_list_after_and_until(alice, blotter):
    # given Alice's blotter, all created just now
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    # when filtered by time
    # then after=past and until=future keep everything, after=future and until=past nothing
    assert len(_ids(alice.get("/orders", {"status": "all", "after": past}))) == 5
    assert len(_ids(alice.get("/orders", {"status": "all", "until": future}))) == 5
    assert _ids(alice.get("/orders", {"status": "all", "after": future})) == set()
    assert _ids(alice.get("/orders", {"status": "all", "until": past})) == set()


def test_list_shows_only_visible_accounts_and_filter_by_invisible_is_empty(
    alice, bob, bob_account, blotter
):
    # given Alice's blotter and Bob with an account of his own
    # when Bob lists orders, or filters by Alice's account
    # then he sees none of Alice's
    assert _ids(bob.get("/orders?status=all")) == set()
    alice_account = alice.get(f"/orders/{blotter['filled']}").json()["account"]
    response = bob.get(f"/orders?account={alice_account}&status=all")
    assert response.status_code in (200, 404)
    if response.status_code == 200:
        assert _ids(response) == set()


def test_bad_filters_are_400(alice, alice_account):
    # given a trader
    # when after/until are not times, or status is not a status
    # then 400 validation_error naming the parameter
    assert_error(alice.get("/orders?after=yesterday"), 400, "validation_error", field="after")
    assert_error(alice.get("/orders?status=sleepy"), 400, "validation_error", field="status")


def test_every_status_seen_is_documented(alice, blotter):
    # given a blotter with orders in many states
    # when all are listed
    statuses = {o["status"] for o in paginated(alice.get("/orders?status=all"))["results"]}
    # then each status is one of API.md's
    assert statuses <= TERMINAL | OPEN, statuses


# --- modify -------------------------------------------------------------------------------------


def test_patch_modifies_in_place_and_the_id_stays(alice, blotter):
    order_id = blotter["resting_buy"]
    # given a resting buy 1 @ 90
    # when qty and price are modified
    response = alice.patch(f"/orders/{order_id}", {"qty": "3", "limit_price": 89.5})
    # then the same order carries the new values
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["qty"], body["limit_price"]) == (order_id, "3", "89.5")
    assert alice.get(f"/orders/{order_id}").json()["limit_price"] == "89.5"


@pytest.mark.parametrize("which", ["filled", "canceled", "rejected"])
def test_patch_of_a_terminal_order_is_409_invalid_state(which, alice, blotter):
    # given a terminal order
    # when it is modified
    response = alice.patch(f"/orders/{blotter[which]}", {"limit_price": "95"})
    # then 409 invalid_state (naming the order is an allowed extra)
    assert_error(response, 409, "invalid_state", extra={"order_id"})


def test_patch_off_the_grid_is_400(alice, blotter):
    # given a resting order
    # when its price is moved off the tick grid
    response = alice.patch(f"/orders/{blotter['resting_buy']}", {"limit_price": "90.01"})
    # then 400 naming limit_price, and the price is unchanged
    assert_error(response, 400, "validation_error", field="limit_price")
    assert alice.get(f"/orders/{blotter['resting_buy']}").json()["limit_price"] == "90"


def test_patch_qty_below_filled_is_400(admin, alice, bob, acme):
    # given Bob's sell 10 @ 100 on the internal exchange, 4 of it filled by Alice's buy
    sellers = open_account(bob, broker="exchange")
    admin.patch(f"/accounts/{sellers['id']}/risk-limits", {"allow_short": True})
    buyers = open_account(alice, broker="exchange")
    sell = _place(bob, sellers, side="sell", qty="10", limit_price="100")
    _place(alice, buyers, qty="4", limit_price="100")
    sell = bob.get(f"/orders/{sell['id']}").json()
    assert (sell["status"], sell["filled_qty"]) == ("partially_filled", "4"), sell
    # when Bob lowers the qty below 4
    response = bob.patch(f"/orders/{sell['id']}", {"qty": "3"})
    # then 400 naming qty, unchanged
    assert_error(response, 400, "validation_error", field="qty")
    assert bob.get(f"/orders/{sell['id']}").json()["qty"] == "10"


def test_a_view_only_member_may_not_modify_or_cancel(alice, alice_account, api_as, blotter):
    # given Vic may view Alice's account
    viewer = api_as("vic", "viewer")
    grant(viewer, alice_account, "view")
    order_id = blotter["resting_buy"]
    # when Vic modifies or cancels her resting order
    # then 403, and the order is untouched
    assert_error(viewer.patch(f"/orders/{order_id}", {"qty": "2"}), 403, "permission_denied")
    assert_error(viewer.delete(f"/orders/{order_id}"), 403, "permission_denied")
    assert viewer.get(f"/orders/{order_id}").json()["status"] in OPEN


# --- cancel -------------------------------------------------------------------------------------


def test_delete_cancels_and_returns_the_order(alice, blotter):
    # given a resting order
    # when it is deleted
    response = alice.delete(f"/orders/{blotter['resting_buy']}")
    # then 200 with the order, pending_cancel or canceled, with canceled_at once canceled
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == blotter["resting_buy"]
    assert body["status"] in ("pending_cancel", "canceled")
    final = alice.get(f"/orders/{body['id']}").json()
    if final["status"] == "canceled":
        assert final["canceled_at"] is not None


@pytest.mark.parametrize("which", ["filled", "canceled", "rejected"])
def test_delete_of_a_terminal_order_is_409_invalid_state(which, alice, blotter):
    # given a terminal order
    # when it is deleted
    # then 409 invalid_state (naming the order is an allowed extra)
    assert_error(
        alice.delete(f"/orders/{blotter[which]}"), 409, "invalid_state", extra={"order_id"}
    )


def test_cancel_all_of_an_account(alice, alice_account, blotter):
    # given two resting orders among terminal ones
    # when all open orders of the account are cancelled
    response = alice.delete(f"/orders?account={alice_account['id']}")
    # then {"canceled": [ids]} names exactly the two
    assert response.status_code == 200, response.content
    body = response.json()
    assert sorted(body["canceled"]) == sorted([blotter["resting_buy"], blotter["resting_sell"]])
    assert _ids(alice.get("/orders?status=open")) == set()


def test_cancel_all_narrowed_to_a_symbol(admin, alice, alice_account, blotter):
    # given a resting FOO buy besides the resting ACME orders
    foo = _place(alice, alice_account, symbol="FOO", qty="1", limit_price="10")
    # when all open FOO orders are cancelled
    response = alice.delete(f"/orders?account={alice_account['id']}&symbol=FOO")
    # then only the FOO order is cancelled
    assert response.json()["canceled"] == [foo["id"]]
    assert len(_ids(alice.get("/orders?status=open"))) == 2


def test_cancel_all_on_someone_elses_account_cancels_nothing(alice, bob, alice_account, blotter):
    # given Alice's resting orders
    # when Bob cancels all on her account
    response = bob.delete(f"/orders?account={alice_account['id']}")
    # then he is refused as if the account did not exist, nothing cancelled
    assert response.status_code in (400, 404), response.content
    assert len(_ids(alice.get("/orders?status=open"))) == 2


# --- batch --------------------------------------------------------------------------------------


def test_batch_judges_each_item_on_its_own(alice, alice_account, bob_account, acme):
    # given three orders: good, off-grid, on an invisible account
    orders = [
        order_body(alice_account, qty="1", limit_price="90"),
        order_body(alice_account, qty="1", limit_price="90.01"),
        order_body(bob_account, qty="1", limit_price="90"),
        order_body(alice_account, qty="100000", limit_price="95"),
    ]
    # when they are posted as a batch
    response = alice.post("/orders/batch", {"orders": orders})
    # then one result per item in order: 201 with the order, 400s with an error, 422
    assert response.status_code in (200, 207), response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 400, 422]
    assert results[0]["order"]["status"] != "rejected" and "error" not in results[0]
    for item in results[1:3]:
        assert item["error"]["code"] == "validation_error" and item["error"]["message"]
        assert "order" not in item
    assert results[1]["error"]["fields"].keys() >= {"limit_price"}
    assert results[2]["error"]["fields"].keys() >= {"account"}
    assert results[3]["error"]["code"] == "risk_rejected"


def test_batch_of_100_is_accepted_and_101_is_400(admin, alice, alice_account, acme):
    # given 101 valid orders
    orders = [order_body(alice_account, qty="1", limit_price="90") for _ in range(101)]
    # when 101 are posted
    too_many = alice.post("/orders/batch", {"orders": orders})
    # then 400 and nothing stored; 100 are all placed
    assert_error(too_many, 400, "validation_error")
    assert paginated(admin.get("/orders?status=all"))["count"] == 0
    ok = alice.post("/orders/batch", {"orders": orders[:100]})
    assert [r["status"] for r in ok.json()["results"]] == [201] * 100


# --- events -------------------------------------------------------------------------------------


def test_events_record_every_change(alice, blotter):
    # given a modified then cancelled order, a filled order and a rejected order
    order_id = blotter["resting_buy"]
    alice.patch(f"/orders/{order_id}", {"limit_price": "89"})
    alice.delete(f"/orders/{order_id}")
    # when their events are read
    trails = {
        name: paginated(alice.get(f"/orders/{oid}/events"))["results"]
        for name, oid in (
            ("modified", order_id),
            ("filled", blotter["filled"]),
            ("rejected", blotter["rejected"]),
        )
    }
    # then each event has seq/type/at/actor/data, seq ascending, and the trail tells the story
    for events in trails.values():
        assert events
        for event in events:
            assert set(event) >= {"seq", "type", "at", "actor", "data"}, event
            assert isinstance(event["type"], str) and isinstance(event["data"], dict)
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    types = {name: " ".join(e["type"] for e in events) for name, events in trails.items()}
    assert "modif" in types["modified"] and "cancel" in types["modified"], types
    assert "fill" in types["filled"], types
    assert "reject" in types["rejected"], types


def test_events_of_someone_elses_order_are_404(bob, blotter):
    # given Alice's order
    # when Bob reads its events
    # then 404
    assert_error(bob.get(f"/orders/{blotter['filled']}/events"), 404, "not_found")
