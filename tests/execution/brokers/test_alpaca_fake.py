"""The Alpaca fake speaks Alpaca's documented protocol: checked with plain HTTP and WebSocket
calls (and parsed with alpaca-py's own models), never through OMS's adapter."""

from __future__ import annotations

import json

import pytest
import requests
from alpaca.trading.models import Clock, Order, Position, TradeAccount, TradeUpdate
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from execution.fakes.alpaca_server import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, alpaca_fake_server
from execution.fakes.alpaca_state import dict_quote_source

AUTH = {"APCA-API-KEY-ID": DEFAULT_KEY_ID, "APCA-API-SECRET-KEY": DEFAULT_SECRET_KEY}


@pytest.fixture
def quotes():
    return {"AAPL": {"bid": "189.90", "ask": "190.10", "last": "190.00"}}


@pytest.fixture
def fake(quotes):
    with alpaca_fake_server(quote_source=dict_quote_source(quotes)) as server:
        yield server


def api(fake, method, path, body=None, *, headers=AUTH, **params):
    return requests.request(
        method, fake.base_url + path, json=body, params=params or None, headers=headers, timeout=5
    )


def control(fake, method, path, body=None):
    response = requests.request(method, fake.base_url + "/_fake" + path, json=body, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def order_body(**overrides):
    body = {"symbol": "AAPL", "qty": "10", "side": "buy", "type": "market"}
    body.update(time_in_force="day", **overrides)
    return body


def stream(fake, *, key=DEFAULT_KEY_ID, secret=DEFAULT_SECRET_KEY, listen=True):
    ws = connect(fake.ws_url + "/stream", open_timeout=5)
    ws.send(json.dumps({"action": "authenticate", "data": {"key_id": key, "secret_key": secret}}))
    reply = json.loads(ws.recv(timeout=5))
    if listen and reply["data"]["status"] == "authorized":
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        assert json.loads(ws.recv(timeout=5)) == {
            "stream": "listening",
            "data": {"streams": ["trade_updates"]},
        }
    return ws, reply


def updates(ws, count):
    return [TradeUpdate(**json.loads(ws.recv(timeout=5))["data"]) for _ in range(count)]


# ---------------------------------------------------------------------------- REST


def test_requests_without_or_with_wrong_keys_are_refused_with_alpacas_error_envelope(fake):
    missing = api(fake, "GET", "/v2/account", headers={})
    assert missing.status_code == 401
    assert set(missing.json()) == {"code", "message"}
    wrong_secret = api(fake, "GET", "/v2/account", headers={**AUTH, "APCA-API-SECRET-KEY": "x"})
    assert wrong_secret.status_code == 403
    assert wrong_secret.json()["message"] == "forbidden"
    ok = api(fake, "GET", "/v2/account")
    account = TradeAccount(**ok.json())
    assert (account.cash, account.currency, account.buying_power) == ("100000", "USD", "100000")


def test_a_market_order_fills_at_the_ask_and_shows_in_positions_and_fill_activities(fake):
    # when a market buy of 10 is sent
    placed = api(fake, "POST", "/v2/orders", order_body(client_order_id="oms-1"))
    # then it is filled at once at the ask, with Alpaca's string decimals
    assert placed.status_code == 200
    order = Order(**placed.json())
    assert (order.status.value, order.filled_qty) == ("filled", "10")
    assert order.filled_avg_price == "190.1"
    assert order.client_order_id == "oms-1"
    assert api(fake, "GET", f"/v2/orders/{order.id}").json()["status"] == "filled"
    by_client = api(fake, "GET", "/v2/orders:by_client_order_id", client_order_id="oms-1")
    assert by_client.json()["id"] == str(order.id)
    [position] = [Position(**p) for p in api(fake, "GET", "/v2/positions").json()]
    assert (position.symbol, position.qty, position.avg_entry_price) == ("AAPL", "10", "190.1")
    [fill] = api(fake, "GET", "/v2/account/activities/FILL").json()
    assert (fill["order_id"], fill["qty"], fill["cum_qty"], fill["type"]) == (
        str(order.id),
        "10",
        "10",
        "fill",
    )
    assert api(fake, "GET", "/v2/account").json()["cash"] == "98099"


def test_a_duplicate_client_order_id_is_refused_with_422(fake):
    assert api(fake, "POST", "/v2/orders", order_body(client_order_id="same")).status_code == 200
    again = api(fake, "POST", "/v2/orders", order_body(client_order_id="same"))
    assert again.status_code == 422
    assert again.json()["message"] == "client_order_id must be unique"
    assert len(control(fake, "GET", "/orders")) == 1


def test_bad_orders_unknown_orders_and_assets_are_refused(fake):
    assert api(fake, "POST", "/v2/orders", order_body(qty="0")).status_code == 422
    assert api(fake, "POST", "/v2/orders", order_body(type="limit")).status_code == 422
    too_big = api(fake, "POST", "/v2/orders", order_body(qty="100000"))
    assert too_big.status_code == 403
    assert too_big.json()["message"] == "insufficient buying power"
    unknown = "/v2/orders/00000000-0000-4000-8000-000000000000"
    assert api(fake, "GET", unknown).status_code == 404
    missing = api(fake, "GET", "/v2/orders:by_client_order_id", client_order_id="nope")
    assert missing.status_code == 404
    assert api(fake, "GET", "/v2/assets/AAPL").json()["symbol"] == "AAPL"
    assert api(fake, "GET", "/v2/assets/ZZZZ").status_code == 404
    assert Clock(**api(fake, "GET", "/v2/clock").json()).is_open is True


def test_a_limit_rests_fills_partly_on_command_then_fully_when_a_quote_crosses(fake):
    placed = api(fake, "POST", "/v2/orders", order_body(type="limit", limit_price="189.50"))
    order_id = placed.json()["id"]
    assert placed.json()["status"] == "new"
    open_orders = api(fake, "GET", "/v2/orders", status="open").json()
    assert [o["id"] for o in open_orders] == [order_id]
    control(fake, "POST", f"/orders/{order_id}/fill", {"qty": "4", "price": "189.50"})
    assert api(fake, "GET", f"/v2/orders/{order_id}").json()["status"] == "partially_filled"
    # a quote whose ask is at the limit fills the rest at the ask
    control(fake, "POST", "/quote", {"symbol": "AAPL", "bid": "189.30", "ask": "189.40"})
    done = api(fake, "GET", f"/v2/orders/{order_id}").json()
    assert (done["status"], done["filled_qty"], done["filled_avg_price"]) == (
        "filled",
        "10",
        "189.44",
    )
    assert api(fake, "GET", "/v2/orders", status="open").json() == []
    fills = api(fake, "GET", "/v2/account/activities/FILL", direction="asc").json()
    assert [(f["qty"], f["cum_qty"], f["type"]) for f in fills] == [
        ("4", "4", "partial_fill"),
        ("6", "10", "fill"),
    ]


def test_replace_makes_a_new_order_linked_both_ways_and_cancel_ends_it(fake):
    old = api(fake, "POST", "/v2/orders", order_body(type="limit", limit_price="180")).json()
    replaced = api(fake, "PATCH", f"/v2/orders/{old['id']}", {"qty": "5", "limit_price": "181"})
    assert replaced.status_code == 200
    new = Order(**replaced.json())
    assert str(new.replaces) == old["id"] and new.id != old["id"]
    assert (new.qty, new.limit_price, new.status.value) == ("5", "181", "new")
    old_now = api(fake, "GET", f"/v2/orders/{old['id']}").json()
    assert (old_now["status"], old_now["replaced_by"]) == ("replaced", str(new.id))
    assert api(fake, "PATCH", f"/v2/orders/{old['id']}", {"qty": "4"}).status_code == 422
    canceled = api(fake, "DELETE", f"/v2/orders/{new.id}")
    assert canceled.status_code == 204 and canceled.text == ""
    assert api(fake, "GET", f"/v2/orders/{new.id}").json()["status"] == "canceled"
    assert api(fake, "DELETE", f"/v2/orders/{new.id}").status_code == 422


# ---------------------------------------------------------------------------- stream


def test_the_stream_refuses_a_wrong_key_and_closes(fake):
    ws, reply = stream(fake, secret="wrong")
    assert reply == {
        "stream": "authorization",
        "data": {"action": "authenticate", "status": "unauthorized"},
    }
    with pytest.raises(ConnectionClosed):
        ws.recv(timeout=5)


def test_the_stream_carries_every_order_of_the_account_including_outside_ones(fake):
    ws, reply = stream(fake)
    assert reply["data"]["status"] == "authorized"
    with ws:
        api(fake, "POST", "/v2/orders", order_body(qty="2", client_order_id="ours"))
        new, fill = updates(ws, 2)
        assert (new.event, fill.event) == ("new", "fill")
        assert (fill.qty, fill.price, fill.position_qty) == (2.0, 190.1, 2.0)
        assert fill.order.client_order_id == "ours" and fill.execution_id is not None
        # an order placed in the broker's own app appears on the same stream
        outside = control(fake, "POST", "/outside/orders", order_body(side="sell", qty="1"))
        events = updates(ws, 2)
        assert [(u.event, str(u.order.id)) for u in events] == [
            ("new", outside["id"]),
            ("fill", outside["id"]),
        ]


def test_duplicate_and_out_of_order_faults_repeat_and_swap_stream_events(fake):
    ws, _ = stream(fake)
    with ws:
        control(fake, "POST", "/faults", {"kind": "duplicate", "count": 1})
        api(fake, "POST", "/v2/orders", order_body(type="limit", limit_price="100"))
        first, again = updates(ws, 2)
        assert first.event == again.event == "new" and first.execution_id == again.execution_id
        control(fake, "POST", "/faults", {"kind": "out_of_order", "count": 1})
        api(fake, "POST", "/v2/orders", order_body(qty="1"))
        assert [u.event for u in updates(ws, 2)] == ["fill", "new"]


def test_a_dropped_stream_is_closed_and_loses_the_events_meanwhile(fake):
    ws, _ = stream(fake)
    control(fake, "POST", "/stream/drop", {"lose_events": 2})
    with pytest.raises(ConnectionClosed):
        ws.recv(timeout=5)
    api(fake, "POST", "/v2/orders", order_body(qty="1"))  # its new + fill are lost
    again, _ = stream(fake)
    with again:
        api(fake, "POST", "/v2/orders", order_body(qty="3"))
        new, fill = updates(again, 2)
        assert (new.event, fill.order.qty) == ("new", "3")


# ---------------------------------------------------------------------------- faults


def test_reject_and_status_faults_answer_like_alpaca(fake):
    control(fake, "POST", "/faults", {"kind": "reject", "message": "account is blocked"})
    rejected = api(fake, "POST", "/v2/orders", order_body())
    assert (rejected.status_code, rejected.json()["message"]) == (403, "account is blocked")
    control(fake, "POST", "/faults", {"kind": "status", "status": 429, "match": "POST /v2/orders"})
    limited = api(fake, "POST", "/v2/orders", order_body())
    assert limited.status_code == 429 and set(limited.json()) == {"code", "message"}
    assert control(fake, "GET", "/orders") == []
    # a 504 after accepting: the order exists although the answer was an error
    control(fake, "POST", "/faults", {"kind": "status", "status": 504, "accept": True})
    assert api(fake, "POST", "/v2/orders", order_body(client_order_id="c1")).status_code == 504
    assert [o["client_order_id"] for o in control(fake, "GET", "/orders")] == ["c1"]


def test_timeout_after_accept_keeps_the_order_but_answers_too_late(fake):
    control(fake, "POST", "/faults", {"kind": "timeout_after_accept", "delay_s": 5})
    with pytest.raises(requests.Timeout):
        requests.post(
            fake.base_url + "/v2/orders",
            json=order_body(client_order_id="late"),
            headers=AUTH,
            timeout=0.3,
        )
    found = api(fake, "GET", "/v2/orders:by_client_order_id", client_order_id="late")
    assert found.status_code == 200 and found.json()["status"] == "filled"
    assert control(fake, "GET", "/requests")[:2] == [
        ["POST", "/v2/orders"],
        ["GET", "/v2/orders:by_client_order_id"],
    ]


def test_binary_frames_carry_the_same_json(fake):
    ws, _ = stream(fake)
    with ws:
        control(fake, "POST", "/faults", {"kind": "binary_frames"})
        api(fake, "POST", "/v2/orders", order_body(qty="1"))
        frame = ws.recv(timeout=5)
        assert isinstance(frame, bytes)
        assert json.loads(frame)["data"]["event"] == "new"


def test_a_replace_can_be_accepted_and_answered_too_late(fake):
    old = api(fake, "POST", "/v2/orders", order_body(type="limit", limit_price="150")).json()
    control(fake, "POST", "/faults", {"kind": "timeout_after_accept", "match": "PATCH"})
    with pytest.raises(requests.Timeout):
        requests.patch(
            f"{fake.base_url}/v2/orders/{old['id']}",
            json={"limit_price": "151", "client_order_id": "late-r2"},
            headers=AUTH,
            timeout=0.3,
        )
    found = api(fake, "GET", "/v2/orders:by_client_order_id", client_order_id="late-r2").json()
    assert (found["replaces"], found["limit_price"]) == (old["id"], "151")
