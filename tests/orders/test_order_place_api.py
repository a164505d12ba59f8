"""POST /api/v1/orders: accepted orders, every bad input, access rules, idempotency."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import IdempotencyKey
from oms_site.errors import BrokerUnavailable
from orders import services
from orders.models import Order, OrderEvent
from tests.factories import account_with_member
from tests.orders.conftest import order_body

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders"


def test_limit_order_is_accepted_stored_and_submitted(client, account, quoted, fake_broker, submit):
    # when a trader places a limit buy
    with submit():
        response = client.post(URL, order_body(account, client_order_id="my-1"), format="json")
    # then it answers 201 with the order object of API.md
    assert response.status_code == 201, response.json()
    body = response.json()
    for key in (
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
    ):
        assert key in body
    assert body["status"] == "pending_new"
    assert body["qty"] == "10" and body["limit_price"] == "100"
    assert body["created_at"].endswith("Z")
    # and after commit it reached the venue as a limit order and was acknowledged
    assert [r.order_id for r in fake_broker.submitted] == [body["id"]]
    assert fake_broker.submitted[0].type == "limit"
    assert Order.objects.get(pk=body["id"]).status == "new"


def test_decimal_numbers_are_accepted_as_json_numbers(client, account, quoted, fake_broker):
    response = client.post(URL, order_body(account, qty=10, limit_price=99.95), format="json")
    assert response.status_code == 201
    assert response.json()["limit_price"] == "99.95"


def test_market_order_fills_through_the_venue(client, account, quoted, fake_broker, submit):
    fake_broker.mode = "fill"
    fake_broker.fill_price = Decimal("100.05")
    with submit():
        response = client.post(
            URL, order_body(account, type="market", limit_price=None), format="json"
        )
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == "filled"
    assert order.filled_qty == 10 and order.avg_fill_price == Decimal("100.05")
    assert fake_broker.submitted[0].type == "market"
    assert fake_broker.submitted[0].limit_price is None


BAD_INPUT = [
    ({"qty": "0"}, "qty"),
    ({"qty": "-1"}, "qty"),
    ({"qty": "ten"}, "qty"),
    ({"qty": None}, "qty"),
    ({"limit_price": "0"}, "limit_price"),
    ({"limit_price": "-10"}, "limit_price"),
    ({"limit_price": "abc"}, "limit_price"),
    ({"limit_price": "100.03"}, "limit_price"),  # off the 0.05 tick
    ({"limit_price": None}, "limit_price"),  # missing required price
    ({"type": "stop", "limit_price": None}, "stop_price"),
    ({"type": "stop_limit", "stop_price": "105", "limit_price": None}, "limit_price"),
    ({"symbol": "NOPE"}, "symbol"),
    ({"account": "00000000-0000-0000-0000-000000000000"}, "account"),
    ({"account": "not-a-uuid"}, "account"),
    ({"side": "hold"}, "side"),
    ({"type": "iceberg"}, "type"),
    ({"time_in_force": "gtd"}, "expire_at"),
    (
        {"time_in_force": "fok", "type": "stop", "stop_price": "105", "limit_price": None},
        "time_in_force",
    ),
    ({"colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("overrides", "field"), BAD_INPUT)
def test_bad_input_is_400_naming_the_field_and_stores_nothing(
    client, account, quoted, fake_broker, overrides, field
):
    response = client.post(URL, order_body(account, **overrides), format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]
    assert Order.objects.count() == 0
    assert fake_broker.submitted == []


def test_qty_off_the_lot_size_is_400(client, account, lots, tick, fake_broker):
    tick("NIFTYFUT", last="100")
    response = client.post(URL, order_body(account, symbol="NIFTYFUT", qty="75"), format="json")
    assert response.status_code == 400
    assert "lot size 50" in response.json()["error"]["fields"]["qty"][0]
    assert Order.objects.count() == 0


def test_someone_elses_account_is_400_unknown_account(make_key_client, other_user, account, quoted):
    response = make_key_client(other_user).post(URL, order_body(account), format="json")
    assert response.status_code == 400
    assert "account" in response.json()["error"]["fields"]
    assert Order.objects.count() == 0


def test_view_only_member_gets_403_and_nothing_is_stored(make_key_client, other_user, quoted):
    account = account_with_member(user=other_user, role="view", broker="fake")
    response = make_key_client(other_user).post(URL, order_body(account), format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert Order.objects.count() == 0


def test_no_auth_is_401(api_client, account, quoted):
    response = api_client.post(URL, order_body(account), format="json")
    assert response.status_code == 401


def test_buy_stop_below_the_market_is_400(client, account, quoted):
    response = client.post(
        URL, order_body(account, type="stop", stop_price="95", limit_price=None), format="json"
    )
    assert response.status_code == 400
    assert "stop_price" in response.json()["error"]["fields"]


# --- client_order_id and Idempotency-Key -------------------------------------------------------


def test_same_client_order_id_and_body_returns_the_existing_order(
    client, account, quoted, fake_broker
):
    body = order_body(account, client_order_id="abc-1")
    first = client.post(URL, body, format="json")
    # the same order spelled differently (number vs string, trailing zeros) is the same body
    again = client.post(URL, {**body, "qty": 10, "limit_price": "100.0"}, format="json")
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Order.objects.count() == 1


def test_same_client_order_id_with_a_different_body_is_409(client, account, quoted, fake_broker):
    client.post(URL, order_body(account, client_order_id="abc-1"), format="json")
    response = client.post(
        URL, order_body(account, client_order_id="abc-1", qty="11"), format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert Order.objects.count() == 1


def test_client_order_id_is_unique_per_account_only(client, trader, account, quoted, fake_broker):
    second = account_with_member(user=trader, role="owner", broker="fake")
    a = client.post(URL, order_body(account, client_order_id="same"), format="json")
    b = client.post(URL, order_body(second, client_order_id="same"), format="json")
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_idempotency_key_replays_the_answer_and_refuses_another_body(
    client, account, quoted, fake_broker
):
    body = order_body(account)
    first = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    replay = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    other = client.post(URL, {**body, "qty": "20"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]
    assert other.status_code == 409
    assert Order.objects.count() == 1
    assert IdempotencyKey.objects.get(key="k-1").status_code == 201


def test_idempotency_key_replays_a_risk_rejection_without_a_second_order(
    client, account, limits, quoted, fake_broker
):
    limits.max_order_qty = Decimal("5")
    limits.save()
    body = order_body(account)
    first = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    again = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()
    assert Order.objects.count() == 1


def test_idempotency_keys_are_per_user(make_key_client, trader, other_user, quoted, fake_broker):
    mine = account_with_member(user=trader, broker="fake")
    theirs = account_with_member(user=other_user, broker="fake")
    a = make_key_client(trader).post(
        URL, order_body(mine), format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )
    b = make_key_client(other_user).post(
        URL, order_body(theirs), format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_idempotency_key_sent_again_while_the_first_runs_is_409(
    client, account, quoted, fake_broker, monkeypatch
):
    # given an order POST during which the client retries with the same key and body
    body = order_body(account)
    place = services.order_place
    retries = []

    def place_while_retried(**kwargs):
        if not retries:
            retries.append(client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-3"))
        return place(**kwargs)

    monkeypatch.setattr(services, "order_place", place_while_retried)
    # when the first request finishes
    first = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    # then the retry was refused (409 conflict) and only the first placed an order
    assert first.status_code == 201
    assert retries[0].status_code == 409
    assert retries[0].json()["error"]["code"] == "conflict"
    assert Order.objects.count() == 1


def test_idempotency_key_does_not_keep_a_5xx_so_the_retry_places(
    client, account, quoted, fake_broker, monkeypatch
):
    # given an order POST that failed with 503
    body = order_body(account)
    place = services.order_place

    def venue_down(**kwargs):
        raise BrokerUnavailable("The venue is not answering.")

    monkeypatch.setattr(services, "order_place", venue_down)
    failed = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-4")
    # when it is retried with the same key once the venue is back
    monkeypatch.setattr(services, "order_place", place)
    retry = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-4")
    # then the retry runs (201, one order) instead of replaying the 503
    assert failed.status_code == 503
    assert retry.status_code == 201, retry.json()
    assert Order.objects.count() == 1


def test_idempotency_key_replay_and_client_order_id_give_the_same_order(
    client, account, quoted, fake_broker
):
    # given an order with a client_order_id posted under a key
    body = order_body(account, client_order_id="cid-1")
    first = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
    # when it is retried with the same key, and again under a new key
    replay = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
    fresh_key = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-6")
    # then both answer 200 with the one order
    assert first.status_code == 201
    assert (replay.status_code, fresh_key.status_code) == (200, 200)
    assert replay.json()["id"] == fresh_key.json()["id"] == first.json()["id"]
    assert Order.objects.count() == 1


def test_idempotency_key_used_on_another_endpoint_is_409(client, account, quoted, fake_broker):
    # given a key used for a POST outside orders (one table for every POST)
    made = client.post(
        "/api/v1/accounts",
        {"name": "Second", "broker": "paper", "starting_cash": "100"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-7",
    )
    # when the same key comes with an order
    response = client.post(URL, order_body(account), format="json", HTTP_IDEMPOTENCY_KEY="k-7")
    # then 409 conflict and no order
    assert made.status_code == 201, made.json()
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert Order.objects.count() == 0


def test_the_created_event_names_the_api_key_actor(client, account, quoted, fake_broker):
    response = client.post(URL, order_body(account), format="json")
    event = OrderEvent.objects.get(order_id=response.json()["id"], seq=1)
    assert event.type == "created"
    assert event.actor["type"] == "api_key"


def test_live_pushes_arrive_in_order_and_carry_a_rising_seq(
    client, account, quoted, fake_broker, submit, delivered
):
    # given a venue that fills at once
    fake_broker.mode = "fill"
    # when the order is placed and submitted after commit
    with submit():
        client.post(URL, order_body(account), format="json")
    # then the stream sees pending_new first and filled last, seq rising
    orders = [m["data"] for m in delivered if m["event"] == "order.updated"]
    assert [o["status"] for o in orders] == ["pending_new", "new", "filled"]
    assert [o["seq"] for o in orders] == sorted(o["seq"] for o in orders)
