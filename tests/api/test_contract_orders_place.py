"""API.md § Orders, placing: body, enums, validation, permissions, risk, idempotency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.api.helpers import assert_error, grant, open_account, order_body, paginated
from tests.clock import within_one_minute

ORDER_KEYS = {
    "id",
    "client_order_id",
    "account",
    "symbol",
    "side",
    "type",
    "qty",
    "filled_qty",
    "avg_fill_price",
    "limit_price",
    "stop_price",
    "trail_price",
    "trail_percent",
    "time_in_force",
    "expire_at",
    "order_class",
    "parent_id",
    "legs",
    "status",
    "reject_reason",
    "created_at",
    "updated_at",
    "filled_at",
    "canceled_at",
}
STATUSES = {
    "pending_new",
    "new",
    "held",
    "partially_filled",
    "filled",
    "pending_cancel",
    "canceled",
    "rejected",
    "expired",
}


def _order_count(admin) -> int:
    return paginated(admin.get("/orders?status=all"))["count"]


def test_the_documented_body_verbatim_is_201_with_every_documented_key(alice, alice_account, acme):
    # given a trader with an account and ACME quoted at 100
    body = order_body(alice_account, client_order_id="my-123")
    # when the body of API.md is posted as is (every key, nulls included)
    response = alice.post("/orders", body)
    # then 201 with the order object and every key API.md lists
    assert response.status_code == 201, response.content
    order = response.json()
    assert set(order) >= ORDER_KEYS, ORDER_KEYS - set(order)
    assert order["account"] == alice_account["id"] and order["symbol"] == "ACME"
    assert (order["side"], order["type"], order["qty"], order["limit_price"]) == (
        "buy",
        "limit",
        "100",
        "10",
    )
    assert (order["time_in_force"], order["order_class"], order["client_order_id"]) == (
        "day",
        "simple",
        "my-123",
    )
    assert order["filled_qty"] == "0" and order["avg_fill_price"] is None
    assert order["stop_price"] is None and order["trail_price"] is None
    assert order["parent_id"] is None and order["legs"] == []
    assert order["status"] in STATUSES and order["status"] != "rejected"
    assert order["reject_reason"] is None
    assert isinstance(order["id"], str)
    # and it is stored
    assert alice.get(f"/orders/{order['id']}").json()["id"] == order["id"]


def test_prices_and_quantities_may_be_json_numbers(alice, alice_account, acme):
    # given a trader
    # when qty and limit_price are JSON numbers
    response = alice.post("/orders", order_body(alice_account, qty=3, limit_price=10.05))
    # then they are read exactly and returned as strings
    assert response.status_code == 201, response.content
    assert (response.json()["qty"], response.json()["limit_price"]) == ("3", "10.05")


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "market", "limit_price": None},
        {"type": "limit", "limit_price": "95"},
        {"type": "stop", "limit_price": None, "stop_price": "105"},
        {"type": "stop_limit", "limit_price": "106", "stop_price": "105"},
        {"type": "trailing_stop", "limit_price": None, "trail_price": "2"},
        {"type": "trailing_stop", "limit_price": None, "trail_percent": "1.5"},
    ],
    ids=["market", "limit", "stop", "stop_limit", "trailing_price", "trailing_percent"],
)
def test_every_order_type_with_its_required_prices_is_accepted(fields, alice, alice_account, acme):
    # given ACME quoted at 100
    # when an order of each type is placed with the prices it needs
    response = alice.post("/orders", order_body(alice_account, qty="1", **fields))
    # then 201 with a documented status
    assert response.status_code == 201, response.content
    assert response.json()["type"] == fields["type"]
    assert response.json()["status"] in STATUSES - {"rejected"}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"type": "limit", "limit_price": None}, "limit_price"),
        ({"type": "stop", "limit_price": None, "stop_price": None}, "stop_price"),
        ({"type": "stop_limit", "limit_price": "106", "stop_price": None}, "stop_price"),
        ({"type": "stop_limit", "limit_price": None, "stop_price": "105"}, "limit_price"),
        ({"type": "trailing_stop", "limit_price": None}, "trail_price"),
        (
            {
                "type": "trailing_stop",
                "limit_price": None,
                "trail_price": "2",
                "trail_percent": "1",
            },
            "trail_price",
        ),
        ({"time_in_force": "gtd", "expire_at": None}, "expire_at"),
        ({"side": "hold"}, "side"),
        ({"type": "iceberg"}, "type"),
        ({"time_in_force": "forever"}, "time_in_force"),
        ({"order_class": "fancy"}, "order_class"),
        ({"order_class": "bracket"}, "take_profit"),
    ],
)
def test_missing_prices_and_bad_enums_are_400_naming_the_field(
    fields, field, alice, alice_account, admin, acme
):
    # given a trader
    # when an order lacks a price its type needs, or has an unknown enum value
    response = alice.post("/orders", order_body(alice_account, qty="1", **fields))
    # then 400 validation_error naming the field, and nothing is stored
    assert_error(response, 400, "validation_error", field=field)
    assert _order_count(admin) == 0


@pytest.mark.parametrize("tif", ["day", "gtc", "gtd", "ioc", "fok"])
def test_every_time_in_force(tif, alice, alice_account, acme):
    # given ACME quoted at 100
    expire_at = (datetime.now(UTC) + timedelta(days=2)).isoformat() if tif == "gtd" else None
    # when a limit order with each time in force is placed
    response = alice.post(
        "/orders",
        order_body(
            alice_account, qty="1", limit_price="95", time_in_force=tif, expire_at=expire_at
        ),
    )
    # then 201 with that time in force (ioc/fok that cannot fill end canceled or expired)
    assert response.status_code == 201, response.content
    order = response.json()
    assert order["time_in_force"] == tif
    if tif == "gtd":
        assert datetime.fromisoformat(order["expire_at"].replace("Z", "+00:00")) > datetime.now(UTC)
    if tif in ("ioc", "fok"):
        final = alice.get(f"/orders/{order['id']}").json()
        assert final["status"] in ("canceled", "expired"), final


@pytest.mark.parametrize(
    ("field", "fields"),
    [
        ("qty", {"qty": "0"}),
        ("qty", {"qty": "-5"}),
        ("qty", {"qty": "1.5"}),
        ("limit_price", {"limit_price": "10.03"}),
        ("stop_price", {"type": "stop", "limit_price": None, "stop_price": "105.01"}),
        ("symbol", {"symbol": "NOPE"}),
    ],
)
def test_grid_and_unknown_symbol_are_400_naming_the_field(
    field, fields, alice, alice_account, admin, acme
):
    # given ACME with tick 0.05 and lot 1
    # when qty or a price is off the grid, or the symbol is unknown
    response = alice.post("/orders", order_body(alice_account, **fields))
    # then 400 validation_error naming the field; nothing stored
    assert_error(response, 400, "validation_error", field=field)
    assert _order_count(admin) == 0


def test_qty_must_be_a_multiple_of_the_lot_size(admin, alice, alice_account):
    # given an instrument traded in lots of 50
    admin.post(
        "/instruments", {"symbol": "LOTS", "exchange": "SIM", "tick_size": "0.05", "lot_size": 50}
    )
    admin.post("/market-data/ticks", {"symbol": "LOTS", "last": "10", "bid": "9.95", "ask": "10"})
    # when 75 and 100 are ordered
    bad = alice.post("/orders", order_body(alice_account, symbol="LOTS", qty="75"))
    good = alice.post("/orders", order_body(alice_account, symbol="LOTS", qty="100"))
    # then 75 is refused naming qty, 100 is accepted
    assert_error(bad, 400, "validation_error", field="qty")
    assert good.status_code == 201, good.content


def test_an_invisible_account_is_400_naming_account(alice, bob_account, admin, acme):
    # given Bob's account
    # when Alice places an order on it
    response = alice.post("/orders", order_body(bob_account))
    # then 400 validation_error naming account (not 403/404), and nothing stored
    assert_error(response, 400, "validation_error", field="account")
    assert _order_count(admin) == 0


def test_a_view_only_account_is_403_and_nothing_is_stored(alice_account, api_as, admin, acme):
    # given Vic may view Alice's account
    viewer = api_as("vic", "viewer")
    grant(viewer, alice_account, "view")
    # when Vic places an order on it
    response = viewer.post("/orders", order_body(alice_account))
    # then 403 permission_denied, nothing stored
    assert_error(response, 403, "permission_denied")
    assert _order_count(admin) == 0


def test_a_trade_member_may_place(alice_account, api_as, acme):
    # given a dealer trading Alice's account
    dealer = api_as("dan", "dealer")
    grant(dealer, alice_account, "trade")
    # when the dealer places an order
    # then it is accepted
    assert dealer.post("/orders", order_body(alice_account)).status_code == 201


@pytest.mark.parametrize(
    ("limits", "fields"),
    [
        ({"max_order_qty": "5"}, {"qty": "10"}),
        ({"max_order_value": "500"}, {"qty": "100", "limit_price": "10"}),
        ({"kill_switch": True}, {}),
        ({"allowed_symbols": ["OTHER"]}, {}),
        ({"price_band_pct": "5"}, {"limit_price": "80"}),
        ({"max_open_orders": 0}, {}),
    ],
    ids=["max_qty", "max_value", "kill_switch", "allowed_symbols", "price_band", "max_open"],
)
def test_a_risk_rejection_is_422_and_the_order_is_stored_rejected(
    limits, fields, admin, alice, alice_account, acme
):
    # given an account with a risk limit
    assert admin.patch(f"/accounts/{alice_account['id']}/risk-limits", limits).status_code == 200
    # when an order breaking it is placed
    response = alice.post("/orders", order_body(alice_account, **fields))
    # then 422 risk_rejected, with the stored order's id in the body
    body = assert_error_with_order_id(response)
    order = alice.get(f"/orders/{body['order_id']}")
    assert order.status_code == 200
    assert order.json()["status"] == "rejected"
    assert isinstance(order.json()["reject_reason"], str) and order.json()["reject_reason"]


def assert_error_with_order_id(response) -> dict:
    assert response.status_code == 422, response.content
    body = response.json()
    assert set(body) == {"error", "order_id"}, body
    assert body["error"]["code"] == "risk_rejected" and body["error"]["message"]
    assert set(body["error"]) <= {"code", "message", "fields"}
    assert isinstance(body["order_id"], str)
    return body


def test_the_per_account_order_rate_limit_is_a_risk_rejection(admin, alice, alice_account, acme):
    # given an account allowed one order a minute
    url = f"/accounts/{alice_account['id']}/risk-limits"
    assert admin.patch(url, {"max_orders_per_minute": 1}).status_code == 200
    # when it places two (in one calendar minute: the limit counts per minute)
    within_one_minute()
    first = alice.post("/orders", order_body(alice_account, qty="1"))
    second = alice.post("/orders", order_body(alice_account, qty="1"))
    # then the second is 422 risk_rejected and stored rejected
    assert first.status_code == 201, first.content
    body = assert_error_with_order_id(second)
    assert alice.get(f"/orders/{body['order_id']}").json()["status"] == "rejected"


def test_insufficient_buying_power_is_a_risk_rejection(alice, acme):
    # given an account with 100 of cash
    account = open_account(alice, cash="100")
    # when it buys 10 at 95
    response = alice.post("/orders", order_body(account, qty="10", limit_price="95"))
    # then 422 risk_rejected and the order is stored rejected
    body = assert_error_with_order_id(response)
    assert alice.get(f"/orders/{body['order_id']}").json()["status"] == "rejected"


def test_selling_short_is_refused_unless_allowed(admin, alice, alice_account, acme):
    # given an account holding nothing (allow_short defaults to false)
    sell = order_body(alice_account, side="sell", qty="1", limit_price="105")
    # when it sells
    refused = alice.post("/orders", sell)
    # then 422; after an admin allows shorting the same order is accepted
    assert_error_with_order_id(refused)
    admin.patch(f"/accounts/{alice_account['id']}/risk-limits", {"allow_short": True})
    assert alice.post("/orders", sell).status_code == 201


# --- order classes ------------------------------------------------------------------------------


def _bracket(account, **overrides):
    body = order_body(
        account,
        qty="5",
        limit_price="95",
        order_class="bracket",
        take_profit={"limit_price": "110"},
        stop_loss={"stop_price": "90", "limit_price": "89"},
    )
    body.update(overrides)
    return body


def test_bracket_exit_legs_are_held_while_the_entry_rests(alice, alice_account, acme):
    # given ACME at 100
    # when a bracket buy at 95 is placed
    response = alice.post("/orders", _bracket(alice_account))
    assert response.status_code == 201, response.content
    entry = response.json()
    # then its detail shows two sell legs, held, pointing at the entry
    detail = alice.get(f"/orders/{entry['id']}").json()
    assert detail["order_class"] == "bracket"
    assert len(detail["legs"]) == 2, detail["legs"]
    for leg in detail["legs"]:
        assert set(leg) >= ORDER_KEYS
        assert (leg["parent_id"], leg["status"], leg["side"]) == (entry["id"], "held", "sell")


def test_bracket_exit_legs_go_live_for_the_filled_quantity(admin, alice, alice_account, acme):
    # given a resting bracket buy at 95
    entry = alice.post("/orders", _bracket(alice_account)).json()
    # when a tick fills the entry
    admin.post("/market-data/ticks", {"symbol": "ACME", "last": "94", "bid": "93.9", "ask": "94"})
    # then the entry is filled and its two exit legs are live (an OCO pair) for 5
    detail = alice.get(f"/orders/{entry['id']}").json()
    assert detail["status"] == "filled", detail
    assert len(detail["legs"]) == 2, detail["legs"]
    for leg in detail["legs"]:
        assert set(leg) >= ORDER_KEYS
        assert leg["parent_id"] == entry["id"] and leg["side"] == "sell"
        assert leg["qty"] == "5"
        assert leg["status"] in ("pending_new", "new", "held"), leg
    assert any(leg["status"] != "held" for leg in detail["legs"]), detail["legs"]


def test_canceling_a_bracket_entry_cancels_its_held_legs(alice, alice_account, acme):
    # given a resting bracket entry with held legs
    entry = alice.post("/orders", _bracket(alice_account)).json()
    # when the entry is cancelled
    response = alice.delete(f"/orders/{entry['id']}")
    # then the legs are cancelled too
    assert response.status_code == 200
    detail = alice.get(f"/orders/{entry['id']}").json()
    assert detail["status"] in ("canceled", "pending_cancel")
    assert [leg["status"] for leg in detail["legs"]] == ["canceled", "canceled"]


def test_canceling_a_bracket_entry_places_no_exit_legs_later(admin, alice, alice_account, acme):
    # given a cancelled bracket entry
    entry = alice.post("/orders", _bracket(alice_account)).json()
    assert alice.delete(f"/orders/{entry['id']}").status_code == 200
    # when the market later crosses the entry price
    admin.post("/market-data/ticks", {"symbol": "ACME", "last": "94", "bid": "93.9", "ask": "94"})
    # then nothing of the bracket is open
    open_orders = paginated(alice.get(f"/orders?account={alice_account['id']}&status=open"))
    assert open_orders["count"] == 0, open_orders


def _hold_ten(alice, account) -> None:
    buy = alice.post("/orders", order_body(account, type="market", qty="10", limit_price=None))
    assert alice.get(f"/orders/{buy.json()['id']}").json()["status"] == "filled"


def test_oco_exit_is_accepted(alice, alice_account, acme):
    # given an account holding 10 ACME
    _hold_ten(alice, alice_account)
    # when an oco exit (take-profit 110 / stop 90) is placed
    oco = alice.post(
        "/orders",
        order_body(
            alice_account,
            side="sell",
            qty="10",
            limit_price=None,
            order_class="oco",
            take_profit={"limit_price": "110"},
            stop_loss={"stop_price": "90"},
        ),
    )
    # then 201, an oco order
    assert oco.status_code == 201, oco.content
    assert oco.json()["order_class"] == "oco"


def test_oto_entry_is_accepted(alice, alice_account, acme):
    # given ACME at 100
    # when an oto entry with one take-profit exit is placed
    oto = alice.post(
        "/orders",
        order_body(
            alice_account,
            qty="1",
            limit_price="95",
            order_class="oto",
            take_profit={"limit_price": "120"},
        ),
    )
    # then 201, an oto order
    assert oto.status_code == 201, oto.content
    assert oto.json()["order_class"] == "oto"


def test_oto_exit_leg_is_held_while_the_entry_rests(alice, alice_account, acme):
    # given a resting oto entry with a take-profit exit
    oto = alice.post(
        "/orders",
        order_body(
            alice_account,
            qty="1",
            limit_price="95",
            order_class="oto",
            take_profit={"limit_price": "120"},
        ),
    ).json()
    # when it is read
    legs = alice.get(f"/orders/{oto['id']}").json()["legs"]
    # then its one exit leg is there, held
    assert [(leg["side"], leg["status"], leg["limit_price"]) for leg in legs] == [
        ("sell", "held", "120")
    ]


# --- idempotency --------------------------------------------------------------------------------


def test_client_order_id_replays_the_same_order_or_conflicts(alice, alice_account, admin, acme):
    # given an order with client_order_id my-123
    body = order_body(alice_account, client_order_id="my-123")
    first = alice.post("/orders", body)
    assert first.status_code == 201
    # when the same body is posted again, then a different body with the same id
    again = alice.post("/orders", body)
    different = alice.post("/orders", {**body, "qty": "200"})
    # then 200 with the same order, then 409 conflict; one order stored
    assert again.status_code == 200, again.content
    assert again.json()["id"] == first.json()["id"]
    assert_error(different, 409, "conflict", extra={"order_id"})
    assert _order_count(admin) == 1


def test_client_order_id_is_unique_per_account_not_globally(alice, acme):
    # given two accounts of Alice
    one, two = open_account(alice, name="One"), open_account(alice, name="Two")
    # when both use client_order_id x-1
    a = alice.post("/orders", order_body(one, client_order_id="x-1"))
    b = alice.post("/orders", order_body(two, client_order_id="x-1"))
    # then both are new orders
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]


def test_idempotency_key_on_order_post(alice, alice_account, admin, acme):
    # given an order posted with an Idempotency-Key
    body = order_body(alice_account)
    first = alice.post("/orders", body, HTTP_IDEMPOTENCY_KEY="key-1")
    # when it is posted again with the same key, then with another body
    again = alice.post("/orders", body, HTTP_IDEMPOTENCY_KEY="key-1")
    other = alice.post("/orders", {**body, "qty": "7"}, HTTP_IDEMPOTENCY_KEY="key-1")
    # then the same order (200), then 409 conflict; one order stored
    assert first.status_code == 201
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert_error(other, 409, "conflict")
    assert _order_count(admin) == 1
