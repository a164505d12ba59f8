"""API.md § Conventions, idempotency: "An `Idempotency-Key` header does the same for any POST"
(same key + same body → the first answer again, the existing object with 200; same key + a
different body → 409 conflict). Orders' client_order_id is covered in the orders files."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.api.helpers import SIM_INSTRUMENT, assert_error, open_account, order_body, paginated


def _key(value: str) -> dict[str, str]:
    return {"HTTP_IDEMPOTENCY_KEY": value}


def test_account_post_replays_with_the_same_key(alice):
    # given an account opened with an Idempotency-Key
    body = {"name": "Once", "broker": "paper", "starting_cash": "100"}
    first = alice.post("/accounts", body, **_key("acc-1"))
    # when the same request is retried, then the key is reused with another body
    again = alice.post("/accounts", body, **_key("acc-1"))
    other = alice.post("/accounts", {**body, "name": "Twice"}, **_key("acc-1"))
    # then the retry answers 200 with the same account, the other body 409; one account
    assert first.status_code == 201, first.content
    assert again.status_code == 200, again.content
    assert again.json()["id"] == first.json()["id"]
    assert_error(other, 409, "conflict")
    assert paginated(alice.get("/accounts"))["count"] == 1


def test_keys_are_per_caller(alice, bob):
    # given Alice used key k-1
    body = {"name": "Mine", "broker": "paper", "starting_cash": "100"}
    assert alice.post("/accounts", body, **_key("k-1")).status_code == 201
    # when Bob uses the same key
    response = bob.post("/accounts", body, **_key("k-1"))
    # then he gets his own new account, never Alice's
    assert response.status_code == 201
    assert paginated(bob.get("/accounts"))["count"] == 1


def test_without_a_key_each_post_creates(alice):
    # given no Idempotency-Key
    body = {"name": "Same", "broker": "paper", "starting_cash": "100"}
    # when the same account is posted twice
    alice.post("/accounts", body)
    alice.post("/accounts", body)
    # then there are two
    assert paginated(alice.get("/accounts"))["count"] == 2


def test_instrument_post_replays_instead_of_conflicting(admin):
    # given an instrument created with a key
    first = admin.post("/instruments", SIM_INSTRUMENT, **_key("ins-1"))
    # when the same request is retried
    again = admin.post("/instruments", SIM_INSTRUMENT, **_key("ins-1"))
    # then 200 with the same instrument (not 409 "already exists")
    assert first.status_code == 201, first.content
    assert again.status_code == 200, again.content
    assert again.json() == first.json()


def test_a_retried_tick_push_is_applied_once(admin, alice):
    # given a fresh instrument
    admin.post("/instruments", {**SIM_INSTRUMENT, "symbol": "IDEM"})
    tick = {"symbol": "IDEM", "last": "10", "volume": 7}
    # when the same push is sent twice with one key
    first = admin.post("/market-data/ticks", tick, **_key("tick-1"))
    again = admin.post("/market-data/ticks", tick, **_key("tick-1"))
    # then both answer 202 and the minute's volume counts the tick once
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    start = datetime.now(UTC).replace(second=0, microsecond=0).isoformat()
    bars = alice.get("/market-data/IDEM/bars", {"interval": "1m", "from": start}).json()
    assert [bar["volume"] for bar in bars["results"]] == ["7"]


def test_an_api_key_post_replays_without_issuing_a_second_key(alice):
    # given a key issued with an Idempotency-Key
    first = alice.post("/api-keys", {"name": "bot"}, **_key("ak-1"))
    # when the request is retried
    again = alice.post("/api-keys", {"name": "bot"}, **_key("ak-1"))
    # then the same key object comes back and no second key exists (the secret is shown once)
    assert first.status_code == 201 and first.json()["key"]
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert first.json()["key"] not in again.content.decode()
    names = [k["name"] for k in paginated(alice.get("/api-keys"))["results"]]
    assert names.count("bot") == 1


def test_notification_posts_take_a_key(api_as):
    # given a user with two notifications
    from accounts.models import User
    from notifications.services import notify

    carol = api_as("carol")
    for title in ("a", "b"):
        notify(user=User.objects.get(username="carol"), kind="info", title=title)
    # when read-all is retried with one key
    first = carol.post("/notifications/read-all", **_key("n-1"))
    again = carol.post("/notifications/read-all", **_key("n-1"))
    # then the retry replays the first answer
    assert first.status_code == 200 and first.json()["updated"] == 2
    assert again.status_code == 200 and again.json() == first.json()


def test_gtt_post_replays_with_the_same_key(alice, alice_account, acme):
    # given a GTT created with a key
    body = {
        "account": alice_account["id"],
        "symbol": "ACME",
        "trigger_type": "single",
        "trigger_values": ["95"],
        "orders": [{"side": "buy", "qty": "1", "type": "limit", "limit_price": "95"}],
    }
    first = alice.post("/gtt", body, **_key("gtt-1"))
    # when it is retried
    again = alice.post("/gtt", body, **_key("gtt-1"))
    # then the same GTT, one stored
    assert first.status_code == 201, first.content
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert paginated(alice.get("/gtt"))["count"] == 1


def test_batch_post_replays_with_the_same_key(admin, alice, alice_account, acme):
    # given a batch posted with a key
    batch = {"orders": [order_body(alice_account, qty="1", limit_price="90")]}
    first = alice.post("/orders/batch", batch, **_key("b-1"))
    # when it is retried
    again = alice.post("/orders/batch", batch, **_key("b-1"))
    # then the same answer, one order stored
    assert again.json() == first.json()
    assert paginated(admin.get("/orders?status=all"))["count"] == 1


def test_an_error_answer_is_replayed_too(alice):
    # given a bad account post with a key
    bad = {"name": "", "broker": "paper", "starting_cash": "1"}
    first = alice.post("/accounts", bad, **_key("bad-1"))
    # when the same request is retried
    again = alice.post("/accounts", bad, **_key("bad-1"))
    # then the same 400 comes back
    assert first.status_code == 400 and again.status_code == 400
    assert again.json() == first.json()


def test_positions_close_takes_a_key(admin, alice, acme):
    # given a long position of 2
    account = open_account(alice)
    buy = alice.post("/orders", order_body(account, type="market", qty="2", limit_price=None))
    assert buy.status_code == 201
    # when close is retried with one key
    first = alice.post("/positions/close", {"account": account["id"]}, **_key("c-1"))
    again = alice.post("/positions/close", {"account": account["id"]}, **_key("c-1"))
    # then the same answer, and the position was closed once (flat, not reversed)
    assert first.status_code in (200, 201, 202), first.content
    assert again.status_code == 200 or again.status_code == first.status_code
    assert again.json() == first.json()
    rows = paginated(alice.get(f"/positions?account={account['id']}"))["results"]
    assert [r["qty"] for r in rows if r["symbol"] == "ACME"] == ["0"]
