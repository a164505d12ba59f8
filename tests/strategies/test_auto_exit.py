"""Auto-exit at the end of the trading window (strategies/auto_exit.py, run by beat)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from orders.models import Order
from strategies.auto_exit import strategies_auto_exit
from strategies.models import Signal

pytestmark = pytest.mark.django_db


def test_the_window_end_flattens_each_account_once(
    accounts, make_strategy, send, client, fake_broker, django_capture_on_commit_callbacks
):
    alpha = accounts[0]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    # given a strategy trading until 5 minutes from now (SIM's zone is UTC), long 10
    strategy = make_strategy(
        [(alpha, {"type": "fixed_qty", "qty": "10"})],
        window_start=(now - timedelta(hours=1)).strftime("%H:%M"),
        window_end=(now + timedelta(minutes=5)).strftime("%H:%M"),
        auto_exit=True,
    )
    fake_broker.mode = "fill"
    assert send(strategy, {"symbol": "ACME", "action": "buy"}).status_code == 202
    # before the end nothing happens
    assert strategies_auto_exit(now=now + timedelta(minutes=4)) == []
    # when beat runs just after the window's end (and again a minute later)
    with django_capture_on_commit_callbacks(execute=True):
        first = strategies_auto_exit(now=now + timedelta(minutes=6))
        again = strategies_auto_exit(now=now + timedelta(minutes=7))
    # then one exit signal flattened the position
    assert len(first) == 1 and again == []
    orders = Order.objects.filter(account=alpha, parent__isnull=True).order_by("created_at")
    assert [(o.side, o.qty, o.status) for o in orders] == [
        ("buy", D("10"), "filled"),
        ("sell", D("10"), "filled"),
    ]
    exit_signal = Signal.objects.get(pk=first[0])
    assert exit_signal.status == "done"
    assert exit_signal.body["action"] == "exit"
