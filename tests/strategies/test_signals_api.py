"""The signal webhook and its fan-out (API.md § Strategies and signals), with quantities
computed by hand. Celery runs eagerly in tests: the fan-out has run when the answer is in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from accounts.models import RiskLimits
from notifications.models import Notification
from orders.models import Order
from strategies.models import Signal, Strategy

pytestmark = pytest.mark.django_db


def _orders(account):
    return list(Order.objects.filter(account=account, parent__isnull=True).order_by("created_at"))


def test_a_signed_signal_fans_out_to_three_accounts_sized_by_their_rules(
    accounts, make_strategy, send, client
):
    alpha, beta, gamma = accounts
    # given three sizing rules (ACME last 100, lot 1, equity 1,000,000 each)
    strategy = make_strategy(
        [
            (alpha, {"type": "multiplier", "factor": "2.5"}),  # 3 × 2.5 = 7.5 → 7
            (beta, {"type": "equity_pct", "pct": "1"}),  # 10,000 / 100 = 100
            (gamma, {"type": "fixed_value", "value": "2550"}),  # 2,550 / 100 = 25.5 → 25
        ]
    )
    # when a signed buy signal arrives
    response = send(strategy, {"symbol": "ACME", "action": "buy", "qty": 3, "id": "a-1"})
    # then it is accepted with its id, and each account got its own quantity
    assert response.status_code == 202
    signal_id = response.json()["signal_id"]
    assert response.json() == {"signal_id": signal_id, "status": "accepted"}
    placed = {acc.name: [(o.side, o.qty, o.type) for o in _orders(acc)] for acc in accounts}
    assert placed == {
        "Alpha": [("buy", D("7"), "market")],
        "Beta": [("buy", D("100"), "market")],
        "Gamma": [("buy", D("25"), "market")],
    }
    # and the signal's log lists each account's order
    log = client.get(f"/api/v1/signals/{signal_id}").json()
    assert log["status"] == "done"
    assert log["body"] == {"symbol": "ACME", "action": "buy", "qty": 3, "id": "a-1"}
    outcomes = {o["account"]: o for o in log["outcomes"]}
    assert outcomes[str(beta.pk)] == {
        "account": str(beta.pk),
        "qty": "100",
        "order_ids": [str(_orders(beta)[0].pk)],
        "reason": None,
    }
    # and the orders carry a client_order_id derived from the signal
    assert _orders(alpha)[0].client_order_id == f"sig-{signal_id.replace('-', '')}-0"


def test_a_position_target_sends_only_the_difference_and_a_repeat_sends_nothing(
    accounts, make_strategy, send, fake_broker
):
    alpha = accounts[0]
    strategy = make_strategy([(alpha, {"type": "multiplier", "factor": "1"})])
    # given a filled long position of 30
    fake_broker.mode = "fill"
    assert send(strategy, {"symbol": "ACME", "position": "30"}).status_code == 202
    assert [(o.side, o.qty, o.status) for o in _orders(alpha)] == [("buy", D("30"), "filled")]
    # when the target becomes 100 and the venue only acknowledges
    fake_broker.mode = "ack"
    send(strategy, {"symbol": "ACME", "position": "100", "id": "t-1"})
    # then only the difference, 70, is sent
    assert [(o.side, o.qty) for o in _orders(alpha)][1:] == [("buy", D("70"))]
    # when the same target arrives again while those 70 are still working
    send(strategy, {"symbol": "ACME", "position": "100", "id": "t-2"})
    # then nothing more is sent, and the log says why
    assert len(_orders(alpha)) == 2
    second = Signal.objects.get(sender_id="t-2")
    assert [(o.order_ids, o.reason) for o in second.outcomes.all()] == [
        ([], "Already at the target position.")
    ]
    # and a target of -20 sells the 30 held and the 70 working (100 + 20 = 120)
    send(strategy, {"symbol": "ACME", "position": -20, "id": "t-3"})
    assert [(o.side, o.qty) for o in _orders(alpha)][2:] == [("sell", D("120"))]


def test_a_replayed_id_gets_the_first_answer_and_places_nothing(accounts, make_strategy, send):
    strategy = make_strategy([(accounts[0], {"type": "fixed_qty", "qty": "5"})])
    first = send(strategy, {"symbol": "ACME", "action": "buy", "id": "dup"})
    # when the sender retries the same alert id
    again = send(strategy, {"symbol": "ACME", "action": "buy", "id": "dup"})
    # then 200 with the first answer, and one order only
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == first.json()
    assert len(_orders(accounts[0])) == 1
    assert Signal.objects.count() == 1


def test_a_replayed_id_of_a_refused_signal_is_200_with_the_first_answer(
    accounts, make_strategy, send, client
):
    # given a signal refused because the strategy was paused
    strategy = make_strategy([(accounts[0], {"type": "fixed_qty", "qty": "5"})])
    client.post(f"/api/v1/strategies/{strategy['id']}/pause")
    first = send(strategy, {"symbol": "ACME", "action": "buy", "id": "late"})
    assert first.status_code == 409
    # when the sender retries the same id after the strategy is resumed
    client.post(f"/api/v1/strategies/{strategy['id']}/resume")
    again = send(strategy, {"symbol": "ACME", "action": "buy", "id": "late"})
    # then (API.md) 200 with the first answer's body, and nothing is placed
    assert again.status_code == 200
    assert again.json() == first.json()
    assert _orders(accounts[0]) == [] and Signal.objects.count() == 1


def test_a_stale_ts_is_refused_with_conflict(accounts, make_strategy, send):
    strategy = make_strategy([(accounts[0], {"type": "fixed_qty", "qty": "5"})])
    stale = (datetime.now(UTC) - timedelta(seconds=61)).isoformat()
    response = send(strategy, {"symbol": "ACME", "action": "buy", "ts": stale})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert "ts" in response.json()["error"]["fields"]
    assert _orders(accounts[0]) == [] and Signal.objects.count() == 0
    # a fresh ts (Unix seconds, as some senders give it) is fine
    fresh = send(
        strategy, {"symbol": "ACME", "action": "buy", "ts": int(datetime.now(UTC).timestamp())}
    )
    assert fresh.status_code == 202


def test_one_account_refused_by_risk_leaves_the_other_two_placed(
    accounts, make_strategy, send, trader
):
    alpha, beta, gamma = accounts
    RiskLimits.objects.filter(account=beta).update(max_order_qty=D("5"))
    strategy = make_strategy([(acc, {"type": "fixed_qty", "qty": "10"}) for acc in accounts])
    response = send(strategy, {"symbol": "ACME", "action": "buy", "id": "r-1"})
    assert response.status_code == 202
    # then alpha and gamma are placed, beta's order is stored rejected with the reason
    assert [o.status for o in _orders(alpha) + _orders(gamma)] == ["new", "new"]
    (rejected,) = _orders(beta)
    assert rejected.status == "rejected"
    outcome = Signal.objects.get().outcomes.get(account=beta)
    assert outcome.order_ids == [str(rejected.pk)]
    assert outcome.reason.startswith("Refused by risk:")
    # and the owner is told in the app
    note = Notification.objects.get(user=trader, kind="signal.refused")
    assert note.account_id == beta.pk


def test_tradingview_text_plain_body_with_the_secret_inside(accounts, make_strategy, send):
    strategy = make_strategy([(accounts[0], {"type": "fixed_qty", "qty": "4"})])
    # TradingView's alert message: JSON typed as text, no headers it could sign
    template = (
        '{"secret": "SECRET", "symbol": "ACME", "action": "sell", "price": 101.03, '
        '"id": "tv-2025-01-31T09:15:00Z"}'
    )
    raw = template.replace("SECRET", strategy["webhook_secret"]).encode()
    response = send(strategy, raw, signed=False, content_type="text/plain; charset=utf-8")
    assert response.status_code == 202
    (order,) = _orders(accounts[0])
    # a price makes it a limit order, on the instrument's tick (0.05)
    assert (order.side, order.qty, order.type, order.limit_price) == (
        "sell",
        D("4"),
        "limit",
        D("101.05"),
    )
    # the secret is not kept in the log
    assert "secret" not in Signal.objects.get().body


def test_a_bad_signature_is_401_counted_and_nothing_is_stored(
    accounts, make_strategy, send, api_client
):
    strategy = make_strategy([(accounts[0], {"type": "fixed_qty", "qty": "4"})])
    body = {"symbol": "ACME", "action": "buy"}
    assert send(strategy, body, secret="not-the-secret").status_code == 401
    wrong_secret = {**body, "secret": "guess"}
    response = send(strategy, wrong_secret, signed=False)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    # a signature that is not even hex (non-ASCII) is just as wrong
    raw = b'{"symbol": "ACME", "action": "buy"}'
    odd = api_client.generic(
        "POST",
        f"/api/v1/signals/{strategy['id']}",
        raw,
        content_type="application/json",
        HTTP_X_SIGNATURE="\u00e9t\u00e9",
    )
    assert odd.status_code == 401
    assert Signal.objects.count() == 0 and _orders(accounts[0]) == []
    assert Strategy.objects.get().auth_failures == 3


def test_unknown_strategy_malformed_body_and_unmapped_symbol(accounts, make_strategy, send):
    strategy = make_strategy(
        [(accounts[0], {"type": "fixed_qty", "qty": "4"})], symbols={"NSE:ACME": "ACME"}
    )
    unknown = {**strategy, "id": "5b1f1f59-0000-4000-8000-000000000000"}
    assert send(unknown, {"symbol": "ACME", "action": "buy"}).status_code == 404
    malformed = send(strategy, b'{"symbol": "ACME", "action": ')
    assert malformed.status_code == 400
    assert "not JSON" in malformed.json()["error"]["message"]
    no_action = send(strategy, {"symbol": "ACME"})
    assert no_action.json()["error"]["fields"] == {
        "action": [no_action.json()["error"]["message"].split(": ", 1)[1]]
    }
    unmapped = send(strategy, {"symbol": "NSE:FOO", "action": "buy"})
    assert unmapped.status_code == 400
    assert "symbol" in unmapped.json()["error"]["fields"]
    # the mapped ticker trades our symbol
    assert send(strategy, {"symbol": "NSE:ACME", "action": "buy"}).status_code == 202
    assert len(_orders(accounts[0])) == 1


def test_a_paused_strategy_refuses_with_invalid_state_and_logs_it(
    accounts, make_strategy, send, client
):
    strategy = make_strategy([(accounts[0], {"type": "fixed_qty", "qty": "4"})])
    paused = client.post(f"/api/v1/strategies/{strategy['id']}/pause")
    assert paused.status_code == 200 and paused.json()["paused"] is True
    response = send(strategy, {"symbol": "ACME", "action": "buy", "id": "p-1"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_state"
    log = client.get(f"/api/v1/strategies/{strategy['id']}/signals").json()
    assert [(s["status"], s["reason"]) for s in log["results"]] == [
        ("refused", "The strategy is paused.")
    ]
    assert _orders(accounts[0]) == []
    # resumed: signals trade again
    client.post(f"/api/v1/strategies/{strategy['id']}/resume")
    assert send(strategy, {"symbol": "ACME", "action": "buy"}).status_code == 202


def test_outside_the_trading_window_is_refused(accounts, make_strategy, send):
    now = datetime.now(UTC)
    start, end = (now + timedelta(hours=1)).time(), (now + timedelta(hours=2)).time()
    strategy = make_strategy(
        [(accounts[0], {"type": "fixed_qty", "qty": "4"})],
        window_start=start.strftime("%H:%M"),
        window_end=end.strftime("%H:%M"),
    )
    response = send(strategy, {"symbol": "ACME", "action": "buy"})
    assert response.status_code == 409
    assert "trading window" in response.json()["error"]["message"]
    assert Signal.objects.get().status == "refused"


def test_rotating_the_secret_retires_the_old_one(accounts, make_strategy, send, client):
    strategy = make_strategy([(accounts[0], {"type": "fixed_qty", "qty": "4"})])
    rotated = client.post(f"/api/v1/strategies/{strategy['id']}/rotate-secret").json()
    assert rotated["webhook_secret"] != strategy["webhook_secret"]
    body = {"symbol": "ACME", "action": "buy"}
    assert send(strategy, body).status_code == 401
    assert send(strategy, body, secret=rotated["webhook_secret"]).status_code == 202


def test_exit_flattens_and_reverse_opens_the_other_side(accounts, make_strategy, send, fake_broker):
    alpha = accounts[0]
    strategy = make_strategy([(alpha, {"type": "fixed_qty", "qty": "10"})])
    fake_broker.mode = "fill"
    send(strategy, {"symbol": "ACME", "action": "buy"})
    RiskLimits.objects.filter(account=alpha).update(allow_short=True)
    # reverse from +10: sell 10 (flat) then sell 10 (short)
    send(strategy, {"symbol": "ACME", "action": "reverse", "id": "rev"})
    assert [(o.side, o.qty) for o in _orders(alpha)][1:] == [("sell", D("10")), ("sell", D("10"))]
    # exit from −10: buy 10
    send(strategy, {"symbol": "ACME", "action": "exit", "id": "ex"})
    assert [(o.side, o.qty) for o in _orders(alpha)][3:] == [("buy", D("10"))]


def test_exit_flattens_an_order_the_venue_filled_while_it_was_being_canceled(
    accounts, make_strategy, send, fake_broker, monkeypatch
):
    from orders.core.reports import order_apply_report
    from strategies import fanout
    from tests.orders.fakes import report

    alpha = accounts[0]
    strategy = make_strategy([(alpha, {"type": "fixed_qty", "qty": "10"})])
    # given a strategy buy of 10 still working at the venue (the position is flat)
    fake_broker.mode = "ack"
    send(strategy, {"symbol": "ACME", "action": "buy"})
    (working,) = _orders(alpha)
    real_cancel = fanout._cancel_working

    def venue_fills_first(ctx, account):
        # the venue fills the order just before the exit's cancel reaches it
        order_apply_report(report(working.pk, "fill", fill_qty=D("10"), fill_price=D("100")))
        real_cancel(ctx, account)

    monkeypatch.setattr(fanout, "_cancel_working", venue_fills_first)
    fake_broker.mode = "fill"
    # when the exit signal arrives
    send(strategy, {"symbol": "ACME", "action": "exit", "id": "ex"})
    # then the filled 10 are sold: the exit reads the position after canceling
    assert [(o.side, o.qty, o.status) for o in _orders(alpha)] == [
        ("buy", D("10"), "filled"),
        ("sell", D("10"), "filled"),
    ]


def test_two_position_targets_fanned_out_side_by_side_do_not_double(
    accounts, make_strategy, send, fake_broker, monkeypatch
):
    from strategies import fanout

    alpha = accounts[0]
    strategy = make_strategy([(alpha, {"type": "fixed_qty", "qty": "10"})])
    fake_broker.mode = "ack"  # the orders stay working
    # given another alert with the same target, stored and taken by another worker
    other = Signal.objects.create(
        strategy_id=strategy["id"], body={"symbol": "ACME", "position": "1"}, sender_id="b"
    )
    real_lock_members = fanout._lock_members
    other_went = []

    def other_worker_goes_first(strategy, account_ids):
        # the other worker places its order while this one is about to lock the accounts
        if not other_went:
            other_went.append(True)
            fanout.signal_fan_out(signal_id=other.pk)
        return real_lock_members(strategy, account_ids)

    monkeypatch.setattr(fanout, "_lock_members", other_worker_goes_first)
    # when this alert (target +1 → +10 on a fixed 10) fans out too
    send(strategy, {"symbol": "ACME", "position": "1", "id": "a"})
    # then the account buys 10 once: the second sees the first's working order
    assert [(o.side, o.qty) for o in _orders(alpha)] == [("buy", D("10"))]
    outcome = Signal.objects.get(sender_id="a").outcomes.get()
    assert outcome.reason == "Already at the target position."


def test_each_accounts_outcome_is_pushed_on_the_signals_channel(
    accounts, make_strategy, send, monkeypatch
):
    delivered = []
    monkeypatch.setattr(
        "notifications.publishing._deliver",
        lambda envelopes: delivered.extend((group, msg) for group, msg in envelopes),
    )
    alpha, beta, _ = accounts
    strategy = make_strategy(
        [(alpha, {"type": "fixed_qty", "qty": "2"}), (beta, {"type": "fixed_value", "value": "1"})]
    )
    signal_id = send(strategy, {"symbol": "ACME", "action": "buy"}).json()["signal_id"]
    pushed = {
        group: msg["data"]
        for group, msg in delivered
        if msg.get("event") == "signal.outcome" and group.startswith("acct.")
    }
    # then one push per account, to that account's group (and admins' `all.signals`)
    assert set(pushed) == {f"acct.{alpha.pk}.signals", f"acct.{beta.pk}.signals"}
    assert pushed[f"acct.{alpha.pk}.signals"]["qty"] == "2"
    assert pushed[f"acct.{beta.pk}.signals"] == {
        "signal_id": signal_id,
        "strategy": strategy["id"],
        "account": str(beta.pk),
        "qty": None,
        "order_ids": [],
        "reason": "Sizing rounds to zero lots (lot size 1).",
    }


def test_a_strategy_larger_than_one_chunk_fans_out_in_parts_and_is_done_once(
    accounts, make_strategy, send, client, settings
):
    # given chunks of 2 accounts: the three accounts go out in two tasks
    settings.OMS_SIGNAL_FANOUT_CHUNK = 2
    strategy = make_strategy([(acc, {"type": "fixed_qty", "qty": "3"}) for acc in accounts])
    signal_id = send(strategy, {"symbol": "ACME", "action": "buy"}).json()["signal_id"]
    log = client.get(f"/api/v1/signals/{signal_id}").json()
    assert log["status"] == "done"
    assert sorted(o["account"] for o in log["outcomes"]) == sorted(str(a.pk) for a in accounts)
    assert [len(_orders(acc)) for acc in accounts] == [1, 1, 1]


def test_signals_over_the_strategys_rate_limit_are_429_and_not_stored(
    accounts, make_strategy, send
):
    strategy = make_strategy(
        [(accounts[0], {"type": "fixed_qty", "qty": "1"})], rate_limit_per_minute=2
    )
    codes = [send(strategy, {"symbol": "ACME", "action": "buy"}).status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    assert Signal.objects.count() == 2 and len(_orders(accounts[0])) == 2


def test_a_filled_opening_order_gets_the_default_trailing_stop(
    accounts, make_strategy, send, fake_broker
):
    alpha = accounts[0]
    strategy = make_strategy(
        [(alpha, {"type": "fixed_qty", "qty": "10"})],
        defaults={"trailing": {"trail_percent": "2"}},
    )
    assert strategy["defaults"]["trailing"] == {"trail_percent": "2"}
    fake_broker.mode = "fill"
    send(strategy, {"symbol": "ACME", "action": "buy", "id": "e-1"})
    entry, trail = _orders(alpha)
    # then a sell trailing stop of the filled 10, 2 % under the last price 100, waits
    assert (entry.side, entry.status) == ("buy", "filled")
    assert (trail.side, trail.type, trail.qty, trail.trail_percent, trail.status) == (
        "sell",
        "trailing_stop",
        D("10"),
        D("2"),
        "held",
    )
    assert trail.stop_price == D("98")
    assert trail.client_order_id == f"{entry.client_order_id}-trail"
    # and the exit it makes is not trailed again
    fake_broker.mode = "fill"
    send(strategy, {"symbol": "ACME", "action": "exit", "id": "e-2"})
    assert [o.type for o in _orders(alpha)] == ["market", "trailing_stop", "market"]
