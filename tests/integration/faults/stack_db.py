"""Run inside the fault stack's database (a subprocess with its DATABASE_URL), print JSON.

    python tests/integration/faults/stack_db.py setup   → accounts, instrument, quote, API key
    python tests/integration/faults/stack_db.py check   → the checker's findings
    python tests/integration/faults/stack_db.py kill_drainer_mid_burst → see its docstring
    python tests/integration/faults/stack_db.py drain_twice → every drain task sent 3 times

The checker (issue 14): every accepted order exists once, nothing is left pending,
filled_qty = Σ fills, no report applied twice, venue fills = booked fills, cash = start +
fills, `rebuild_positions --check` clean.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import time
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[3]
SYMBOL = "FLT"
START_CASH = Decimal("100000000")
OPEN_STATUSES = ("pending_new", "new", "partially_filled", "pending_cancel", "held")


def _django() -> None:
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms_site.settings")
    import django

    django.setup()


def setup() -> dict:
    from accounts.models import RiskLimits, User
    from accounts.services import account_create, api_key_create
    from marketdata.ingest import tick_ingest
    from marketdata.models import Instrument
    from tests.marketdata.factories import ExchangeFactory

    user = User.objects.create_user(username="fault-trader", password=None, role="trader")
    instrument = Instrument.objects.create(
        symbol=SYMBOL,
        exchange=ExchangeFactory(),
        name="Fault probe",
        tick_size=Decimal("0.05"),
        lot_size=Decimal("1"),
        currency="INR",
    )
    accounts = {}
    for name, broker in (("paper", "paper"), ("seller", "exchange"), ("buyer", "exchange")):
        account = account_create(
            actor=None, owner=user, name=f"fault-{name}", broker=broker, starting_cash=START_CASH
        )
        RiskLimits.objects.update_or_create(
            account=account,
            defaults={
                "allow_short": True,
                "max_orders_per_minute": None,
                "max_orders_per_day": None,
                "max_open_orders": None,
                "max_order_value": None,
                "max_order_qty": None,
                "price_band_pct": None,
            },
        )
        accounts[name] = str(account.pk)
    tick = tick_ingest(symbol=instrument.symbol, last="100", bid="99.95", ask="100.05", volume=1)
    assert tick.applied, tick
    key = api_key_create(user=user)
    return {"accounts": accounts, "symbol": SYMBOL, "key": key.raw_key}


def check(prefix: str) -> dict:
    from django.core.management import CommandError, call_command

    from accounts.models import TradingAccount
    from execution.models import VenueFill
    from orders.models import Order
    from pnl.models import Fill

    orders = list(
        Order.objects.filter(tag__startswith=prefix).values(
            "id", "tag", "status", "qty", "filled_qty", "account_id", "reject_reason"
        )
    )
    per_tag = Counter(order["tag"] for order in orders)
    fills = list(Fill.objects.values("order_id", "report_id", "qty", "price", "fee", "side"))
    booked: dict[str, Decimal] = defaultdict(Decimal)
    for fill in fills:
        booked[str(fill["order_id"])] += fill["qty"]
    wrong_filled_qty = [
        str(order["id"]) for order in orders if order["filled_qty"] != booked[str(order["id"])]
    ]
    overfilled = [str(order["id"]) for order in orders if order["filled_qty"] > order["qty"]]
    report_ids = Counter(fill["report_id"] for fill in fills)
    venue = {row["id"]: row for row in VenueFill.objects.values("id", "order_id", "qty")}
    exchange_orders = {
        str(order["id"])
        for order in orders
        if order["account_id"] and str(order["account_id"]) in _exchange_accounts()
    }
    booked_for_exchange_orders = {
        fill["report_id"] for fill in fills if str(fill["order_id"]) in exchange_orders
    }
    venue_for_exchange_orders = {
        fill_id for fill_id, row in venue.items() if row["order_id"] in exchange_orders
    }
    cash_mismatch = []
    for account in TradingAccount.objects.filter(name__startswith="fault-"):
        flow = Decimal("0")
        for fill in Fill.objects.filter(account=account).values("side", "qty", "price", "fee"):
            notional = fill["qty"] * fill["price"]
            flow += (notional if fill["side"] == "sell" else -notional) - fill["fee"]
        if account.starting_cash + flow != account.cash:
            cash_mismatch.append(
                f"{account.name}: start {account.starting_cash} + fills {flow} != {account.cash}"
            )
    out = io.StringIO()
    try:
        call_command("rebuild_positions", "--check", stdout=out)
        rebuild_clean = True
    except CommandError as exc:
        out.write(str(exc))
        rebuild_clean = False
    return {
        "orders": len(orders),
        "per_tag": dict(per_tag),
        "statuses": dict(Counter(order["status"] for order in orders)),
        "open": [order["tag"] for order in orders if order["status"] in OPEN_STATUSES],
        "rejected": [
            f"{order['tag']}: {order['reject_reason']}"
            for order in orders
            if order["status"] == "rejected"
        ],
        "wrong_filled_qty": wrong_filled_qty,
        "overfilled": overfilled,
        "reports_applied_twice": [rid for rid, n in report_ids.items() if n > 1],
        "venue_fills_not_booked": sorted(venue_for_exchange_orders - booked_for_exchange_orders),
        "booked_fills_not_at_venue": sorted(booked_for_exchange_orders - venue_for_exchange_orders),
        "exchange_fills_booked": len(booked_for_exchange_orders),
        "cash_mismatch": cash_mismatch,
        "rebuild_clean": rebuild_clean,
        "rebuild_output": out.getvalue()[-2000:],
    }


def _exchange_accounts() -> set[str]:
    from accounts.models import TradingAccount

    return {
        str(pk)
        for pk in TradingAccount.objects.filter(
            name__startswith="fault-", broker="exchange"
        ).values_list("pk", flat=True)
    }


def _active_drain_pids() -> list[int]:
    """The worker processes running a submit drain right now (Celery's `inspect active`
    names each task's pool process)."""
    from oms_site.celery import app
    from orders.core.submit_burst import DRAIN_TASK

    return sorted(
        int(task["worker_pid"])
        for tasks in (app.control.inspect(timeout=1.0).active() or {}).values()
        for task in tasks
        if task.get("name") == DRAIN_TASK and task.get("worker_pid")
    )


def _position_lock_waits() -> int:
    """Transactions waiting right now to lock a position row (a burst's fills)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.INNODB_TRX "
            "WHERE trx_state = 'LOCK WAIT' AND trx_query LIKE %s",
            ["%pnl_position%"],
        )
        return int(cursor.fetchone()[0])


def kill_drainer_mid_burst() -> dict:
    """Hold the paper account's position row locked, so a burst of paper orders in flight
    stops mid-way (claimed, sent to the venue, its fills waiting for that lock, nothing
    committed); SIGKILL every worker process running a drain while that holds; let go."""
    from django.db import transaction

    from oms_site.locks import lock_rows
    from pnl.models import Position

    # The position row alone: a join would lock the account and instrument rows too, and
    # stop order placement and the exchange shard instead of the burst.
    position_ids = list(
        Position.objects.filter(account__name="fault-paper", instrument__symbol=SYMBOL).values_list(
            "pk", flat=True
        )
    )
    with transaction.atomic():
        if not lock_rows(Position.objects.filter(pk__in=position_ids)):
            raise SystemExit("no paper position to hold: run the other phases first")
        deadline = time.monotonic() + 30
        pids: list[int] = []
        while not pids and time.monotonic() < deadline:
            time.sleep(0.5)  # let a burst reach the held row
            pids = _active_drain_pids()
        if not pids:
            raise SystemExit("no submit drain ran within 30 s under load")
        waiting = _position_lock_waits()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)  # the database sees the connections drop and rolls the bursts back
    return {"killed_pids": pids, "position_lock_waits_when_killed": waiting}


def drain_twice() -> dict:
    """Send the drain task of every slot three times at once: bursts delivered again and
    run side by side, as after a redelivery."""
    from orders.core import jobs
    from orders.core.submit_burst import DRAIN_TASK, drainers

    for _ in range(3):
        for slot in range(drainers()):
            jobs.send(DRAIN_TASK, slot=slot)
    return {"sent": 3 * drainers()}


if __name__ == "__main__":
    _django()
    command = sys.argv[1]
    if command == "setup":
        result = setup()
    elif command == "kill_drainer_mid_burst":
        result = kill_drainer_mid_burst()
    elif command == "drain_twice":
        result = drain_twice()
    else:
        result = check(sys.argv[2] if len(sys.argv) > 2 else "f-")
    print(json.dumps(result, default=str))
