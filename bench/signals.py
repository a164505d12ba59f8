"""Strategy signals benchmark. Prints ONE JSON object.

Run from the repo root: ``python bench/signals.py [--accounts 50] [--answers 300]
[--fanouts 30] [--database-url URL]``; ``python bench/signals.py --live [...]`` measures the
same through the running stack instead (bench/signals_live.py: HTTP webhook, Celery workers,
MariaDB, Redis — the figure the target is about).

In one process, against a fresh database (a temporary SQLite file; ``--database-url`` for
MariaDB, e.g. mysql://root@127.0.0.1:3306/oms_signals_bench, dropped and re-created), with
the Celery broker in memory (``memory://``: what is enqueued is not run, so each figure is
the part it names):

webhook_answer_ms_p50/p95/max  POST /api/v1/signals/{id} through Django's test client (the
                  whole middleware and DRF stack, X-Signature verified, the signal stored,
                  the fan-out enqueued) until the 202 is in hand. Target p95 < 50 ms.
fanout_ms_p50/p95/max  from the start of the POST until ALL orders of the N-account strategy
                  are committed: the answer above, then the fan-out task's work run inline
                  (per account: sizing, position and working orders read, order_place with
                  its risk checks, audit event and submission enqueue, the link, the outcome
                  row and its push), all accounts in one task: one worker's figure (the live
                  path splits the accounts into tasks of OMS_SIGNAL_FANOUT_CHUNK, default 10,
                  for several workers). The queue hop between the two (a Redis round trip
                  and a worker picking the task up) is not in it. Target p95 < 1000 ms.
..._cpu_ms_...     the same, in CPU time of the process (database included for SQLite,
                  which runs in it): what the work costs whatever else the machine is doing;
                  the wall-clock figures above grow with the machine's load.
orders_per_s      orders persisted per second of fan-out.
fanout_queries_per_order  SQL statements of one more fan-out (BEGIN/COMMIT/SAVEPOINT
                  included) per account: the figure that does not move with the load.
accounts, answers, fanouts  the sizes measured; database, host_cpus, host_load_1m.

Not a test: nothing is asserted; the numbers are for reading.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

REPO_ROOT = Path(__file__).resolve().parent.parent


def _percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return round(ordered[index], 2)


def _child(accounts: int, answers: int, fanouts: int) -> dict[str, object]:
    """Runs in a subprocess whose DATABASE_URL names the database to measure."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms_site.settings")
    import django

    django.setup()
    from decimal import Decimal

    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0, interactive=False)
    from oms_site.celery import app as celery_app

    # Enqueued work goes to the in-memory broker and stays there: the figures are the
    # webhook's and the fan-out's own (settings run tasks inline without a Redis).
    celery_app.conf.task_always_eager = False
    from accounts.models import AccountMembership, RiskLimits, TradingAccount, User
    from marketdata.models import Exchange, Instrument
    from marketdata.services import tick_ingest
    from orders.models import Order
    from strategies import fanout, services

    settings.ALLOWED_HOSTS = ["*"]
    # All accounts in one task: the figure of ONE worker (the live path splits a strategy
    # into tasks of OMS_SIGNAL_FANOUT_CHUNK accounts that several workers run side by side).
    settings.OMS_SIGNAL_FANOUT_CHUNK = accounts
    exchange, _ = Exchange.objects.get_or_create(
        code="SIM", defaults={"always_open": True, "trading_weekdays": "0123456"}
    )
    Instrument.objects.get_or_create(
        symbol="ACME",
        defaults={"exchange": exchange, "tick_size": Decimal("0.05"), "lot_size": Decimal("1")},
    )
    tick_ingest(symbol="ACME", last="100", bid="99.95", ask="100.05", volume=1, source="bench")
    owner = User.objects.create(username=f"bench-{time.time_ns()}", role="trader")
    members = []
    for index in range(accounts):
        account = TradingAccount.objects.create(
            name=f"Bench {index}", broker="paper", cash=Decimal("100000000")
        )
        AccountMembership.objects.create(user=owner, account=account, role="owner")
        RiskLimits.objects.get_or_create(account=account)
        members.append({"account": str(account.pk), "sizing": {"type": "fixed_qty", "qty": "1"}})
    issued = services.strategy_create(
        user=owner, name="bench", accounts=members, rate_limit_per_minute=None
    )
    url = f"/api/v1/signals/{issued.strategy.pk}"
    client = Client()

    def post(number: int) -> tuple[float, float, str]:
        raw = json.dumps({"symbol": "ACME", "action": "buy", "id": f"b-{number}"}).encode()
        signature = hmac.new(issued.secret.encode(), raw, hashlib.sha256).hexdigest()
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.post(
            url, raw, content_type="application/json", HTTP_X_SIGNATURE=signature
        )
        if response.status_code != 202:
            raise SystemExit(f"webhook answered {response.status_code}: {response.content!r}")
        return started, started_cpu, response.json()["signal_id"]

    for warmup in range(5):
        _, _, signal_id = post(-1 - warmup)
        fanout.signal_fan_out(signal_id=signal_id)
    answer_ms, answer_cpu_ms = [], []
    for number in range(answers):
        started, started_cpu, _ = post(number)
        answer_ms.append((time.perf_counter() - started) * 1000)
        answer_cpu_ms.append((time.process_time() - started_cpu) * 1000)
    fanout_ms, fanout_cpu_ms, placed = [], [], 0
    for number in range(answers, answers + fanouts):
        started, started_cpu, signal_id = post(number)
        outcomes = fanout.signal_fan_out(signal_id=signal_id)
        fanout_ms.append((time.perf_counter() - started) * 1000)
        fanout_cpu_ms.append((time.process_time() - started_cpu) * 1000)
        orders = Order.objects.filter(strategy_link__signal_id=signal_id).count()
        if orders != accounts or any(o.reason for o in outcomes):
            raise SystemExit(f"signal {signal_id}: {orders} orders for {accounts} accounts")
        placed += orders
    # One more, its statements counted (not timed: counting slows each one a little).
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _, _, signal_id = post(answers + fanouts)
    with CaptureQueriesContext(connection) as counted:
        fanout.signal_fan_out(signal_id=signal_id)
    return {
        "fanout_queries": len(counted.captured_queries),
        "answer_ms": answer_ms,
        "answer_cpu_ms": answer_cpu_ms,
        "fanout_ms": fanout_ms,
        "fanout_cpu_ms": fanout_cpu_ms,
        "orders": placed,
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
    }


def _recreate_mysql(url: str) -> None:
    import MySQLdb

    parts = urlparse(url)
    conn = MySQLdb.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        passwd=parts.password or "",
    )
    name = parts.path.lstrip("/")
    cursor = conn.cursor()
    cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    conn.close()


def main() -> None:
    if "--live" in sys.argv[1:]:
        sys.argv.remove("--live")
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import signals_live

        raise SystemExit(signals_live.main())
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--answers", type=int, default=300)
    parser.add_argument("--fanouts", type=int, default=30)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(REPO_ROOT))
        print(json.dumps(_child(args.accounts, args.answers, args.fanouts)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        database_url = args.database_url or f"sqlite:///{tmp}/signals.sqlite3"
        if database_url.startswith("mysql"):
            _recreate_mysql(database_url)
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": "",
            "CELERY_BROKER_URL": "memory://",
            "LOG_LEVEL": "WARNING",
        }
        command = [
            sys.executable,
            __file__,
            "--child",
            f"--accounts={args.accounts}",
            f"--answers={args.answers}",
            f"--fanouts={args.fanouts}",
        ]
        done = subprocess.run(
            command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=False
        )
    if done.returncode:
        raise SystemExit(f"bench/signals.py failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    answer_ms, fanout_ms = result["answer_ms"], result["fanout_ms"]
    print(
        json.dumps(
            {
                "webhook_answer_ms_p50": _percentile(answer_ms, 50),
                "webhook_answer_ms_p95": _percentile(answer_ms, 95),
                "webhook_answer_ms_max": round(max(answer_ms), 2),
                "webhook_answer_cpu_ms_p95": _percentile(result["answer_cpu_ms"], 95),
                "fanout_ms_p50": _percentile(fanout_ms, 50),
                "fanout_ms_p95": _percentile(fanout_ms, 95),
                "fanout_ms_max": round(max(fanout_ms), 2),
                "fanout_cpu_ms_p50": _percentile(result["fanout_cpu_ms"], 50),
                "fanout_cpu_ms_p95": _percentile(result["fanout_cpu_ms"], 95),
                "orders_per_s": round(result["orders"] / (sum(fanout_ms) / 1000), 1),
                "fanout_queries_per_order": round(result["fanout_queries"] / args.accounts, 1),
                "accounts": args.accounts,
                "answers": len(answer_ms),
                "fanouts": len(fanout_ms),
                "database": result["database"],
                "host_cpus": os.cpu_count(),
                "host_load_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
