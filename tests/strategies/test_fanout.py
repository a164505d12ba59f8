"""The fan-out's shape (strategies/fanout.py): a chunk of accounts is one transaction with
its inputs read once, the first task enqueues the other chunks and does the first, a chunk
rolled back by a lock conflict runs again, and only strategies with a trailing default get
a trailing-stop task per filled order. Quantities computed by hand."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.db import OperationalError

from marketdata.services import tick_ingest
from oms_site.task_enqueue import task_named
from orders.models import Order
from pnl.models import Position
from strategies import fanout
from strategies.models import Signal, SignalOutcome, SignalStatus, StrategyOrder
from tests.marketdata.factories import InstrumentFactory

pytestmark = pytest.mark.django_db


def _orders(account):
    return list(Order.objects.filter(account=account, parent__isnull=True).order_by("created_at"))


def _record_delays(monkeypatch, task_name):
    """Calls of the task's .delay(), each still run (Celery is eager in tests)."""
    task, calls = task_named(task_name), []
    real_delay = task.delay

    def delay(*args, **kwargs):
        calls.append((args, kwargs))
        return real_delay(*args, **kwargs)

    monkeypatch.setattr(task, "delay", delay)
    return calls


def test_equity_sizing_values_each_accounts_own_positions_at_the_latest_quotes(
    accounts, make_strategy, send, acme
):
    alpha, beta, gamma = accounts
    # given WIDG quoted at 50: alpha holds 200 (+10,000), beta is short 100 (−5,000)
    widg = InstrumentFactory(symbol="WIDG", exchange=acme.exchange, lot_size=D("1"))
    tick_ingest(symbol="WIDG", last="50", bid="49.95", ask="50.05", volume=1, source="test")
    for account, qty in ((alpha, D("200")), (beta, D("-100"))):
        Position.objects.create(account=account, instrument=widg, symbol="WIDG", qty=qty)
    strategy = make_strategy(
        [
            (alpha, {"type": "equity_pct", "pct": "1"}),
            (beta, {"type": "equity_pct", "pct": "1"}),
            (gamma, {"type": "fixed_qty", "qty": "3"}),
        ]
    )
    # when a buy of ACME (last 100) fans out
    send(strategy, {"symbol": "ACME", "action": "buy"})
    # then 1 % of 1,010,000 = 10,100 → 101; 1 % of 995,000 = 9,950 → 99.5 → 99 lots of 1
    assert [[o.qty for o in _orders(acc)] for acc in accounts] == [[D("101")], [D("99")], [D("3")]]


def test_the_webhook_sends_one_task_which_enqueues_the_other_chunks_and_does_the_first(
    accounts, make_strategy, send, settings, monkeypatch
):
    # given chunks of 2 accounts
    settings.OMS_SIGNAL_FANOUT_CHUNK = 2
    strategy = make_strategy([(acc, {"type": "fixed_qty", "qty": "1"}) for acc in accounts])
    calls = _record_delays(monkeypatch, "strategies.signal_fan_out")
    # when a signal arrives
    signal_id = send(strategy, {"symbol": "ACME", "action": "buy"}).json()["signal_id"]
    # then the webhook sent one task (the whole strategy), and that task one more for the
    # third account: it placed the first two itself
    assert calls == [
        ((signal_id,), {"account_ids": None}),
        ((signal_id,), {"account_ids": [str(accounts[2].pk)]}),
    ]
    assert [len(_orders(acc)) for acc in accounts] == [1, 1, 1]
    assert Signal.objects.get(pk=signal_id).status == SignalStatus.DONE


def test_an_unexpected_error_rolls_the_chunk_back_and_the_rerun_places_each_order_once(
    accounts, make_strategy, send, monkeypatch
):
    from orders import services as order_services

    strategy = make_strategy([(acc, {"type": "fixed_qty", "qty": "5"}) for acc in accounts])
    real_place, placed = order_services.order_place, []

    def place_then_crash(**kwargs):
        # the second account's placement fails with an error nobody expects
        if len(placed) == 1:
            raise RuntimeError("database went away")
        placed.append(kwargs["account_id"])
        return real_place(**kwargs)

    monkeypatch.setattr(order_services, "order_place", place_then_crash)
    # when the signal fans out and the chunk fails part-way
    with pytest.raises(RuntimeError):
        send(strategy, {"symbol": "ACME", "action": "buy", "id": "x-1"})
    # then nothing of the chunk is kept: no order, no link, no outcome; still accepted
    signal = Signal.objects.get(sender_id="x-1")
    assert (signal.status, Order.objects.count(), StrategyOrder.objects.count()) == (
        SignalStatus.ACCEPTED,
        0,
        0,
    )
    assert not SignalOutcome.objects.filter(signal=signal).exists()
    # when the sweeper's re-run fans it out again, working this time
    monkeypatch.setattr(order_services, "order_place", real_place)
    outcomes = fanout.signal_fan_out(signal_id=signal.pk)
    # then each account has its one order, linked, and the signal is done
    assert [[(o.qty, o.status) for o in _orders(acc)] for acc in accounts] == [
        [(D("5"), "pending_new")]
    ] * 3
    assert sorted(len(o.order_ids) for o in outcomes) == [1, 1, 1]
    assert StrategyOrder.objects.filter(signal=signal).count() == 3
    signal.refresh_from_db()
    assert signal.status == SignalStatus.DONE


@pytest.mark.django_db(transaction=True)
def test_a_chunk_rolled_back_by_a_deadlock_runs_again_at_once_and_places_each_order_once(
    accounts, make_strategy, send, monkeypatch, caplog
):
    strategy = make_strategy([(acc, {"type": "fixed_qty", "qty": "2"}) for acc in accounts])
    real_members, attempts = fanout._fan_out_members, []

    def deadlocked_once(ctx, members):
        outcomes = real_members(ctx, members)  # every order placed in the chunk, then...
        attempts.append(len(members))
        if len(attempts) == 1:  # ...the database picks this transaction as the victim
            raise OperationalError(1213, "Deadlock found when trying to get lock")
        return outcomes

    monkeypatch.setattr(fanout, "_fan_out_members", deadlocked_once)
    # when the signal fans out (no surrounding transaction, as on a worker)
    send(strategy, {"symbol": "ACME", "action": "buy", "id": "d-1"})
    # then the chunk ran twice, the second time for real: one order of 2 on each account
    assert attempts == [3, 3]
    assert [[o.qty for o in _orders(acc)] for acc in accounts] == [[D("2")]] * 3
    signal = Signal.objects.get(sender_id="d-1")
    assert (signal.status, signal.outcomes.count()) == (SignalStatus.DONE, 3)
    assert "rolled back by a lock conflict" in caplog.text


def test_a_filled_order_of_a_strategy_without_a_trailing_default_enqueues_no_trailing_task(
    accounts, make_strategy, send, fake_broker, monkeypatch
):
    calls = _record_delays(monkeypatch, "strategies.trailing_stop_place")
    plain = make_strategy([(accounts[0], {"type": "fixed_qty", "qty": "10"})], name="Plain")
    trailed = make_strategy(
        [(accounts[1], {"type": "fixed_qty", "qty": "10"})],
        name="Trailed",
        defaults={"trailing": {"trail_percent": "2"}},
    )
    fake_broker.mode = "fill"
    # when both strategies' buys fill
    send(plain, {"symbol": "ACME", "action": "buy", "id": "p-1"})
    fake_broker.mode = "fill"
    send(trailed, {"symbol": "ACME", "action": "buy", "id": "t-1"})
    # then only the trailed strategy's entry got the trailing-stop task
    (entry,) = [o for o in _orders(accounts[1]) if o.side == "buy"]
    assert [args for args, _ in calls] == [(str(entry.pk),)]
    assert [o.status for o in _orders(accounts[0])] == ["filled"]
