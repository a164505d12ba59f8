"""Strict input (API.md conventions): decimals are plain ASCII `-?digits[.digits]` (strings)
or JSON numbers; times carry an offset; dates are YYYY-MM-DD within a sane range; paging
parameters are whole numbers. Anything else is a 400 validation_error naming the field or
parameter, and nothing is stored."""

from __future__ import annotations

import pytest

from tests.api.helpers import assert_error, open_account, order_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(alice, acme):
    return open_account(alice)


def _orders_of(api) -> int:
    return api.get("/orders", {"status": "all"}).json()["count"]


@pytest.mark.parametrize("qty", ["1_000", "１", " 1 ", "1e3", "+1", ".5", "NaN", "1,000", ""])
def test_a_quantity_that_is_not_a_plain_decimal_is_refused(alice, account, qty):
    # when an order's qty is written loosely
    response = alice.post("/orders", order_body(account, qty=qty))
    # then it is refused naming qty, and no order exists
    assert_error(response, 400, "validation_error", field="qty")
    assert _orders_of(alice) == 0


@pytest.mark.parametrize("qty", ["7", 7, 7.0])
def test_plain_strings_and_json_numbers_are_decimals(alice, account, qty):
    response = alice.post("/orders", order_body(account, qty=qty, limit_price=99.95))
    assert response.status_code == 201, response.content
    assert response.json()["qty"] == "7" and response.json()["limit_price"] == "99.95"


def _gtt_body(account, *, trigger: str = "95", qty: str = "2", **extra) -> dict:
    return {
        "account": account["id"],
        "symbol": "ACME",
        "trigger_type": "single",
        "trigger_values": [trigger],
        "orders": [{"side": "buy", "qty": qty, "type": "limit", "limit_price": "95"}],
        **extra,
    }


def test_prices_of_gtt_legs_and_ticks_are_parsed_the_same_way(admin, alice, account):
    gtt = _gtt_body(account, trigger="9_5", qty="２")
    refused = assert_error(alice.post("/gtt", gtt), 400, "validation_error")
    assert {"trigger_values.0", "orders.0.qty"} <= set(refused["error"]["fields"]), refused
    # a pushed tick with a loose price is refused, the quote stays
    tick = admin.post("/market-data/ticks", {"symbol": "ACME", "last": "1_01"})
    assert_error(tick, 400, "validation_error", field="0.last")
    quote = alice.get("/market-data", {"symbols": "ACME"}).json()["results"][0]
    assert quote["last"] == "100"


@pytest.mark.parametrize(
    ("path", "field", "body"),
    [
        ("/orders", "expire_at", {"time_in_force": "gtd", "expire_at": "2030-01-01T00:00:00"}),
        ("/gtt", "expires_at", {"expires_at": "2030-01-01T00:00:00"}),
    ],
)
def test_a_time_without_an_offset_is_refused(alice, account, path, field, body):
    payload = order_body(account, **body) if path == "/orders" else _gtt_body(account, **body)
    assert_error(alice.post(path, payload), 400, "validation_error", field=field)
    # with an offset the same time is fine
    ok = alice.post(path, {**payload, field: "2030-01-01T00:00:00+05:30"})
    assert ok.status_code == 201, ok.content


def test_a_schedule_run_at_without_an_offset_is_refused(alice, account):
    body = {
        "account": account["id"],
        "name": "Morning buy",
        "order": {"symbol": "ACME", "side": "buy", "type": "market", "qty": "5"},
        "kind": "once",
        "run_at": "2030-01-01T09:15:00",
    }
    assert_error(alice.post("/schedules", body), 400, "validation_error", field="run_at")


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"limit": "-1"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "１"}, "limit"),
        ({"offset": "-5"}, "offset"),
        ({"offset": "1.5"}, "offset"),
        ({"offset": "9" * 40}, "offset"),
    ],
)
@pytest.mark.parametrize("path", ["/orders", "/fills", "/positions", "/gtt", "/accounts"])
def test_bad_paging_is_a_validation_error_naming_the_parameter(alice, account, path, params, name):
    assert_error(alice.get(path, params), 400, "validation_error", field=name)


def test_paging_within_bounds_works_and_a_large_limit_is_capped(alice, account):
    for _ in range(3):
        assert alice.post("/orders", order_body(account)).status_code == 201
    page = alice.get("/orders", {"limit": "2", "offset": "1"}).json()
    assert page["count"] == 3 and len(page["results"]) == 2
    assert len(alice.get("/orders", {"limit": "5000"}).json()["results"]) == 3


@pytest.mark.parametrize(
    ("path", "params", "name"),
    [
        ("/pnl", {"from": "0001-01-01"}, "from"),
        ("/pnl", {"to": "9999-12-31"}, "to"),
        ("/pnl", {"from": "2025-1-5"}, "from"),
        ("/orders", {"after": "0001-01-01T00:00:00Z"}, "after"),
        ("/orders", {"until": "9999-12-31T23:59:59-05:00"}, "until"),
        ("/orders", {"after": "2030-01-01T00:00:00"}, "after"),
        ("/market-data/ACME/bars", {"from": "0001-01-01T00:00:00+05:00"}, "from"),
        ("/market-data/ACME/bars", {"to": "9999-12-31T23:00:00-05:00"}, "to"),
        ("/market-data/ACME/bars", {"limit": "-1"}, "limit"),
        ("/orderbook/ACME", {"depth": "１"}, "depth"),
    ],
)
def test_out_of_range_dates_and_times_are_a_validation_error_not_a_500(
    alice, account, path, params, name
):
    if path == "/pnl":
        params = {"account": account["id"], **params}
    assert_error(alice.get(path, params), 400, "validation_error", field=name)


def test_the_pnl_export_refuses_a_date_out_of_range(alice, account):
    from django.test import Client

    from accounts.models import User

    browser = Client()
    browser.force_login(User.objects.get(username="alice"))
    for kind in ("fills", "matches", "daily"):
        response = browser.get(f"/pnl/export/{kind}.csv", {"from": "0001-01-01"})
        assert response.status_code == 400, (kind, response.status_code)
        assert b"from" in response.content


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2025-1-5"])
def test_a_snapshot_date_out_of_range_is_a_validation_error(admin, day):
    assert_error(admin.post("/pnl/snapshots", {"date": day}), 400, "validation_error", field="date")


@pytest.mark.parametrize("ts", ["0001-01-01T00:00:00+05:00", "2030-01-01T00:00:00"])
def test_a_pushed_tick_time_needs_an_offset_and_a_sane_year(admin, acme, ts):
    response = admin.post("/market-data/ticks", {"symbol": "ACME", "last": "101", "ts": ts})
    assert_error(response, 400, "validation_error", field="0.ts")


@pytest.mark.parametrize("count", ["1_0", "１０", " 10 ", "10.0", "1e1", "+10", True, ""])
def test_a_count_that_is_not_a_plain_whole_number_is_refused(admin, account, count):
    # when an admin writes a risk limit's order count loosely
    path = f"/accounts/{account['id']}/risk-limits"
    response = admin.patch(path, {"max_orders_per_day": count})
    # then it is refused naming the field, and the limit is unchanged
    assert_error(response, 400, "validation_error", field="max_orders_per_day")
    assert admin.get(path).json()["max_orders_per_day"] is None


@pytest.mark.parametrize("count", ["10", 10])
def test_a_count_is_a_json_integer_or_a_plain_digit_string(admin, account, count):
    path = f"/accounts/{account['id']}/risk-limits"
    response = admin.patch(path, {"max_orders_per_day": count})
    assert response.status_code == 200, response.content
    assert response.json()["max_orders_per_day"] == 10
