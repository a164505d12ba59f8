"""API.md § GTT (good-till-triggered), seen from the outside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.api.helpers import assert_error, grant, open_account, paginated

GTT_STATUSES = {"active", "triggered", "cancelled", "expired", "rejected", "disabled"}


def _tick(admin, last: str) -> None:
    body = {"symbol": "ACME", "last": last, "bid": last, "ask": last}
    assert admin.post("/market-data/ticks", body).status_code == 202


def _single(account, value: str = "95", **overrides) -> dict:
    body = {
        "account": account["id"],
        "symbol": "ACME",
        "trigger_type": "single",
        "trigger_values": [value],
        "orders": [{"side": "buy", "qty": "2", "type": "limit", "limit_price": value}],
    }
    body.update(overrides)
    return body


def _oco(account) -> dict:
    return {
        "account": account["id"],
        "symbol": "ACME",
        "trigger_type": "oco",
        "trigger_values": ["90", "110"],
        "orders": [
            {"side": "sell", "qty": "10", "type": "limit", "limit_price": "89.5"},
            {"side": "sell", "qty": "10", "type": "limit", "limit_price": "110"},
        ],
    }


@pytest.fixture
def account(alice, acme):
    return open_account(alice)


def test_create_single_gtt_defaults_to_one_year(alice, account):
    # given ACME at 100
    # when a single-trigger GTT below the market is created without expiry
    response = alice.post("/gtt", _single(account))
    # then 201, active, expiring in about a year
    assert response.status_code == 201, response.content
    gtt = response.json()
    assert isinstance(gtt["id"], str) and gtt["status"] == "active"
    expires = datetime.fromisoformat(gtt["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=364) < expires - datetime.now(UTC) < timedelta(days=367)
    assert gtt["trigger_type"] == "single" and gtt["trigger_values"] == ["95"]


def test_a_gtt_fires_once_when_the_price_crosses_from_its_side(admin, alice, account):
    # given a GTT at 95 created while the price was 100
    gtt = alice.post("/gtt", _single(account)).json()
    # when the price falls to 96, then to 95, then further
    _tick(admin, "96")
    assert alice.get(f"/gtt/{gtt['id']}").json()["status"] == "active"
    _tick(admin, "95")
    _tick(admin, "94")
    _tick(admin, "93")
    # then it triggered exactly once and names the one order it placed
    fired = alice.get(f"/gtt/{gtt['id']}").json()
    assert fired["status"] == "triggered"
    assert len(fired["order_ids"]) == 1
    order = alice.get(f"/orders/{fired['order_ids'][0]}").json()
    assert (order["side"], order["qty"], order["symbol"]) == ("buy", "2", "ACME")
    assert paginated(alice.get("/orders?status=all"))["count"] == 1


def test_a_gtt_above_the_market_fires_on_a_rise(admin, alice, account):
    # given a GTT at 105 (above the price of 100 at creation)
    gtt = alice.post("/gtt", _single(account, "105")).json()
    # when the price falls, then rises to 105
    _tick(admin, "90")
    assert alice.get(f"/gtt/{gtt['id']}").json()["status"] == "active"
    _tick(admin, "105")
    # then it fired
    assert alice.get(f"/gtt/{gtt['id']}").json()["status"] == "triggered"


def test_oco_gtt_places_the_first_leg_and_cancels_the_other(admin, alice, account):
    # given an account that may sell, and an oco GTT 90 / 110 with two sell orders
    admin.patch(f"/accounts/{account['id']}/risk-limits", {"allow_short": True})
    response = alice.post("/gtt", _oco(account))
    assert response.status_code == 201, response.content
    gtt = response.json()
    # when the price rises to 110, then falls to 90
    _tick(admin, "110")
    _tick(admin, "90")
    # then only the target leg's order was placed
    fired = alice.get(f"/gtt/{gtt['id']}").json()
    assert fired["status"] == "triggered" and len(fired["order_ids"]) == 1
    order = alice.get(f"/orders/{fired['order_ids'][0]}").json()
    assert order["limit_price"] == "110"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"trigger_values": ["95", "96"]}, "trigger_values"),
        ({"trigger_type": "double"}, "trigger_type"),
        ({"orders": [{"side": "buy", "qty": "2", "type": "stop", "limit_price": "95"}]}, "orders"),
        ({"symbol": "NOPE"}, "symbol"),
    ],
)
def test_bad_gtt_is_400(overrides, field, alice, account):
    # given a trader
    # when a malformed GTT is posted
    response = alice.post("/gtt", _single(account, **overrides))
    # then 400 validation_error naming the field (or a field under it)
    body = assert_error(response, 400, "validation_error")
    assert any(name.split(".")[0] == field for name in body["error"]["fields"]), body


def test_list_get_patch_delete(alice, account):
    # given an active GTT
    gtt = alice.post("/gtt", _single(account)).json()
    # when it is listed, read, changed and deleted
    listing = paginated(alice.get("/gtt"))
    detail = alice.get(f"/gtt/{gtt['id']}")
    patched = alice.patch(f"/gtt/{gtt['id']}", {"trigger_values": ["94"]})
    deleted = alice.delete(f"/gtt/{gtt['id']}")
    # then each works and the last leaves it cancelled
    assert [g["id"] for g in listing["results"]] == [gtt["id"]]
    assert detail.status_code == 200 and detail.json()["status"] in GTT_STATUSES
    assert patched.status_code == 200 and patched.json()["trigger_values"] == ["94"]
    assert deleted.status_code in (200, 204)
    assert alice.get(f"/gtt/{gtt['id']}").json()["status"] == "cancelled"


def test_patch_only_while_active(admin, alice, account):
    # given a triggered GTT
    gtt = alice.post("/gtt", _single(account)).json()
    _tick(admin, "95")
    # when it is patched
    response = alice.patch(f"/gtt/{gtt['id']}", {"trigger_values": ["90"]})
    # then 409 invalid_state
    assert_error(response, 409, "invalid_state")


def test_someone_elses_gtt_is_404_and_view_only_may_not_create(alice, bob, account, api_as):
    # given Alice's GTT and a viewer of her account
    gtt = alice.post("/gtt", _single(account)).json()
    viewer = api_as("vic", "viewer")
    grant(viewer, account, "view")
    # when Bob reads or deletes it, and the viewer creates one
    # then 404 for Bob, 403 for the viewer
    assert_error(bob.get(f"/gtt/{gtt['id']}"), 404, "not_found")
    assert_error(bob.delete(f"/gtt/{gtt['id']}"), 404, "not_found")
    assert_error(viewer.post("/gtt", _single(account)), 403, "permission_denied")
