"""PnL benchmarks. Prints ONE JSON object.

Run from the repo root: ``python bench/pnl.py``.

Keys
----
core_fills_per_s  incremental ``PositionState.apply`` (Match objects built) on a seeded
                  stream mixing opens, partial closes and flips; best of several runs.
rebuild_1m_s      ``rebuild()`` of one account from 1,000,000 in-memory Fill objects.
                  Building the Fill objects (i.e. loading rows) is NOT timed.
service_fills_per_s  THE HEADLINE: fills booked incrementally through the pnl service the
                  way the live path now books them — a venue's burst per transaction
                  (``pnl.services.fills_record``, 100 fills per call, each call its own
                  transaction: account and position locked once, the lots the burst closes
                  read once, one multi-row INSERT per table, one position and one cash
                  UPDATE) — on a fresh SQLite file; the core's stream, one position. Equal
                  to ``service_fills_per_s_fills_record_100``.
service_fills_per_s_one_per_txn  the same fills through ``pnl.services.fill_record``, one
                  transaction per fill (bounded by the commit: see ``commits_per_s``).
service_fills_per_s_batched  100 ``fill_record`` calls per transaction.
service_fills_per_s_fills_record_100 / _fills_record_10  ``fills_record`` with 100 / 10
                  fills per call (10: the trades of one exchange command).
service_fills_per_s_with_push  one transaction per fill with the position push wired as
                  PnlConfig wires it (no Redis here: the in-process channel layer).
report_path_fills_per_s_burst_100  the whole live report path, orders' ``order_apply_reports``
                  with bursts of 100 fill reports (a paper tick's chunk), each filling one
                  working order: order rows locked in pk order, the burst's fills booked by
                  ``fills_record``, order updates and audit events, ProcessedReport rows,
                  the order/fill/position pushes sent on commit.
report_path_fills_per_s_one_per_txn  the same path, one report per call (a venue that
                  reports one fill at a time).
commits_per_s     transactions per second that only UPDATE one account row (ORM, same
                  ``transaction.atomic``): the commit's own cost, the ceiling of any
                  one-transaction-per-fill path. On MariaDB it is the redo-log flush of
                  every commit (innodb_flush_log_at_trx_commit=1).
..._mysql         each of the above against MariaDB/MySQL (database ``oms_pnl_bench``,
                  dropped and created afresh each run; null when the server is unreachable).
host_cpus, host_load_1m  the machine the figures were taken on (a shared, loaded machine
                  gives lower figures: read them together).
service_rebuild_identical  after the service runs, ``position_rebuild(write=False)``
                  found nothing to change (the incremental result equals the rebuild).

Figures (2 shared cores; runs vary by +-25% with the machine's load), SQLite / MariaDB 10.11:

    service_fills_per_s (bursts of 100)   7,600-14,400   /  6,000-9,400
    service_fills_per_s_one_per_txn       1,800-3,700    /  520-1,030
    service_fills_per_s_fills_record_10   3,400-9,400    /  2,100-5,000
    report_path_fills_per_s_burst_100     1,580          /  1,070
    report_path_fills_per_s_one_per_txn   290            /  165
    commits_per_s                         2,900-6,500    /  1,000-1,760

One transaction per fill stays below 5,000/s on either database: a transaction that only
updates one row commits a few thousand times a second on SQLite and ~1,000-1,600 on MariaDB
(the log flush), and a fill's transaction runs ~7 statements more. The live path therefore
books each venue burst in one transaction (orders.core.reports.order_apply_reports ->
fills_record): the trades of one exchange command, the resting orders one paper tick
crosses (chunks of 100). The report path's figure is the orders side's cost (an UPDATE and
an audit event per order through the ORM, pushes), not the ledger's.

Options: ``--service-fills N`` (default 20,000), ``--only service`` to skip the core runs.

Each benchmark is a function returning ``{key: value}``; ``main`` merges them, so a DB
benchmark (e.g. ``bench_service`` -> "service_fills_per_s") slots in beside them.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from pnl.fifo import BUY, SELL, Fill, PositionState, rebuild  # noqa: E402

SEED = 20_240_601
CORE_FILLS = 200_000
CORE_RUNS = 5
REBUILD_FILLS = 1_000_000
SERVICE_FILLS = 20_000
SERVICE_WARMUP = 500
MYSQL_URL = os.environ.get("BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/oms_pnl_bench")


def generate_fills(count: int, *, seed: int = SEED) -> list[Fill]:
    """A deterministic fill stream: ~45% adds, ~40% partial/full closes, ~15% flips.

    Prices random-walk in paise around 100.00; qtys are whole units with an occasional
    fractional lot; fees are a few rupees. Decimal objects are shared through caches so
    a million fills fit in memory comfortably.
    """
    rng = random.Random(seed)
    price_cache: dict[int, Decimal] = {}
    qty_cache: dict[int, Decimal] = {}

    def money(paise: int, cache: dict[int, Decimal]) -> Decimal:
        value = cache.get(paise)
        if value is None:
            value = cache[paise] = Decimal(paise).scaleb(-2)
        return value

    fills: list[Fill] = []
    position_centi = 0  # signed qty in hundredths, tracked to steer opens/closes/flips
    price_paise = 10_000
    for fill_id in range(1, count + 1):
        price_paise = max(1, price_paise + rng.randint(-25, 25))
        size_centi = rng.randint(1, 200) * 100 + (rng.choice((0, 0, 0, 50)))
        roll = rng.random()
        if position_centi == 0 or roll < 0.45:
            # open / add in the direction of the position (random when flat)
            if position_centi > 0:
                buy = True
            elif position_centi < 0:
                buy = False
            else:
                buy = rng.random() < 0.5
        elif roll < 0.85:
            # close part or all of the position
            buy = position_centi < 0
            size_centi = min(size_centi, abs(position_centi))
        else:
            # flip: close everything and open the remainder on the other side
            buy = position_centi < 0
            size_centi += abs(position_centi)
        position_centi += size_centi if buy else -size_centi
        fills.append(
            Fill(
                fill_id=fill_id,
                side=BUY if buy else SELL,
                qty=money(size_centi, qty_cache),
                price=money(price_paise, price_cache),
                fee=money(rng.randint(0, 2_000), price_cache),
            )
        )
    return fills


def bench_core() -> dict[str, float]:
    """Incremental apply throughput on a pure PositionState (matches materialised)."""
    fills = generate_fills(CORE_FILLS)
    best = float("inf")
    for _ in range(CORE_RUNS):
        state = PositionState(multiplier=Decimal(1))
        apply = state.apply
        started = time.perf_counter()
        for fill in fills:
            apply(fill)
        best = min(best, time.perf_counter() - started)
    return {"core_fills_per_s": round(CORE_FILLS / best)}


def bench_rebuild() -> dict[str, float]:
    """Full replay of one account's 1M-fill history."""
    fills = generate_fills(REBUILD_FILLS, seed=SEED + 1)
    gc.collect()
    started = time.perf_counter()
    rebuild(fills, multiplier=Decimal(1))
    elapsed = time.perf_counter() - started
    return {"rebuild_1m_s": round(elapsed, 3)}


def _service_child(count: int) -> dict[str, object]:
    """Runs in a subprocess whose DATABASE_URL names the database to measure. Three runs,
    each on a fresh account and instrument with the same generated stream:
    commit_each (one transaction per fill, the real path), batched (100 fill_record calls
    per transaction: a burst applied together), fills_record_100 / fills_record_10 (the
    batch entry point, 100 or 10 fills per call and transaction), with_push (commit_each
    plus the notifications publisher the lead wires, on a quarter of the fills); then
    commits (one-row UPDATE transactions per second: the ceiling of commit_each)."""
    import uuid
    from datetime import UTC, datetime, timedelta

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms_site.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction
    from django.db.models import F

    call_command("migrate", verbosity=0, interactive=False)
    from accounts.models import TradingAccount
    from marketdata.models import Exchange, Instrument
    from notifications.services import publish
    from pnl import registry
    from pnl.services import FillInput, fill_record, fills_record, position_rebuild

    exchange, _ = Exchange.objects.get_or_create(
        code="SIM", defaults={"always_open": True, "trading_weekdays": "0123456"}
    )
    stream = generate_fills(count + SERVICE_WARMUP)
    start = datetime.now(UTC) - timedelta(days=1)
    accounts = []

    def run(total: int, *, batch: int, bulk: bool = False) -> float:
        tag = uuid.uuid4().hex[:8]
        instrument = Instrument.objects.create(
            symbol=f"B{tag}".upper(), exchange=exchange, tick_size=Decimal("0.01")
        )
        account = TradingAccount.objects.create(
            name=f"bench {tag}", broker="paper", cash=Decimal("1000000000")
        )
        accounts.append(account.pk)

        def fields(index: int, fill: Fill) -> dict[str, object]:
            return {
                "order_id": uuid.uuid4(),
                "account_id": account.pk,
                "instrument_id": instrument.pk,
                "symbol": instrument.symbol,
                "side": fill.side,
                "qty": fill.qty,
                "price": fill.price,
                "fee": fill.fee,
                "ts": start + timedelta(milliseconds=index),
                "report_id": f"bench-{tag}-{index}",
            }

        def book(index: int, fill: Fill) -> None:
            fill_record(**fields(index, fill))

        for index, fill in enumerate(stream[:SERVICE_WARMUP]):
            book(index, fill)
        measured = list(enumerate(stream[SERVICE_WARMUP : SERVICE_WARMUP + total], SERVICE_WARMUP))
        started = time.perf_counter()
        for offset in range(0, len(measured), batch):
            chunk = measured[offset : offset + batch]
            if bulk:  # the inputs are built inside the timed loop, as a caller would
                fills_record(fills=[FillInput(**fields(index, fill)) for index, fill in chunk])
            elif batch == 1:
                book(*chunk[0])
            else:
                with transaction.atomic():
                    for index, fill in chunk:
                        book(index, fill)
        return round(total / (time.perf_counter() - started))

    def report_path(total: int, *, batch: int) -> float:
        """Fills per second through orders' live report path (`order_apply_reports`), in
        bursts of `batch` fill reports, each filling one working order: orders locked, the
        ledger booked by fills_record, order updates, events, ProcessedReport rows and the
        live pushes on commit. The working orders are inserted before the clock starts."""
        from execution.protocol import ExecutionReport, ReportType
        from orders.models import Order, OrderStatus
        from orders.services import order_apply_reports

        tag = uuid.uuid4().hex[:8]
        instrument = Instrument.objects.create(
            symbol=f"R{tag}".upper(), exchange=exchange, tick_size=Decimal("0.01")
        )
        account = TradingAccount.objects.create(
            name=f"bench {tag}", broker="paper", cash=Decimal("1000000000")
        )
        accounts.append(account.pk)
        chosen = stream[SERVICE_WARMUP : SERVICE_WARMUP + total]
        now = datetime.now(UTC)
        orders = [
            Order(
                account=account,
                instrument=instrument,
                symbol=instrument.symbol,
                side=fill.side,
                type="limit",
                qty=fill.qty,
                limit_price=fill.price,
                time_in_force="gtc",
                status=OrderStatus.NEW,
                broker="paper",
                accepted_at=now,
            )
            for fill in chosen
        ]
        Order.objects.bulk_create(orders, batch_size=1000)
        started = time.perf_counter()
        for offset in range(0, total, batch):
            order_apply_reports(
                [
                    ExecutionReport(
                        report_id=f"bench-r-{tag}-{offset + index}",
                        order_id=str(order.pk),
                        type=ReportType.FILL,
                        ts=start + timedelta(milliseconds=offset + index),
                        fill_qty=fill.qty,
                        fill_price=fill.price,
                        fee=fill.fee,
                    )
                    for index, (order, fill) in enumerate(
                        zip(
                            orders[offset : offset + batch],
                            chosen[offset : offset + batch],
                            strict=True,
                        )
                    )
                ]
            )
        return round(total / (time.perf_counter() - started))

    def commits(total: int) -> float:
        """Transactions per second that change one account row: the commit's own cost."""
        account = TradingAccount.objects.create(name="bench commits", broker="paper")
        started = time.perf_counter()
        for _ in range(total):
            with transaction.atomic():
                TradingAccount.objects.filter(pk=account.pk).update(cash=F("cash") + 1)
        return round(total / (time.perf_counter() - started))

    wired = registry.hooks_snapshot()  # OrdersConfig.ready() registered the lead's hooks
    registry.hooks_restore({})
    commit_each = run(count, batch=1)
    batched = run(count, batch=100)
    bulk_100 = run(count, batch=100, bulk=True)
    bulk_10 = run(count, batch=10, bulk=True)
    commit_ceiling = commits(max(1, count // 4))
    registry.hooks_restore(wired)
    registry.register_position_publisher(publish)  # notifications.publish, as PnlConfig wires it
    with_push = run(max(1, count // 4), batch=1)
    report_path_100 = report_path(max(100, count // 4), batch=100)
    report_path_1 = report_path(max(100, count // 20), batch=1)
    identical = all(position_rebuild(account_id=pk, write=False).identical for pk in accounts)
    return {
        "commit_each": commit_each,
        "batched": batched,
        "fills_record_100": bulk_100,
        "fills_record_10": bulk_10,
        "with_push": with_push,
        "report_path_100": report_path_100,
        "report_path_1": report_path_1,
        "commits": commit_ceiling,
        "rebuild_identical": identical,
    }


def _run_service_child(database_url: str, count: int) -> dict[str, object] | None:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": "", "LOG_LEVEL": "WARNING"}
    cmd = [sys.executable, __file__, "--service-child", "--service-fills", str(count)]
    done = subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(
            f"bench/pnl.py: service run on {database_url} failed:\n{done.stderr[-2000:]}",
            file=sys.stderr,
        )
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _mysql_reachable() -> bool:
    from urllib.parse import urlparse

    try:
        import MySQLdb
    except ImportError:
        return False
    url = urlparse(MYSQL_URL)
    try:
        conn = MySQLdb.connect(
            host=url.hostname or "127.0.0.1",
            port=url.port or 3306,
            user=url.username or "root",
            passwd=url.password or "",
            connect_timeout=3,
        )
        # A database of its own, recreated each run: results never depend on leftovers.
        name = url.path.lstrip("/")
        cursor = conn.cursor()
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        conn.close()
    except MySQLdb.Error as exc:
        print(f"bench/pnl.py: MariaDB unreachable ({exc}); mysql figure = null", file=sys.stderr)
        return False
    return True


def bench_service(count: int = SERVICE_FILLS) -> dict[str, object]:
    """Fills booked per second through the Django service, on SQLite and MariaDB."""
    out: dict[str, object] = {}
    runs: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = _run_service_child(f"sqlite:///{tmp}/bench.sqlite3", count)
    mysql = _run_service_child(MYSQL_URL, count) if _mysql_reachable() else None
    for suffix, result in (("", sqlite), ("_mysql", mysql)):
        result = result or {}
        # The headline: fills booked through the service as the live path now calls it,
        # a venue's burst per transaction (fills_record, 100 fills: a paper tick's chunk).
        out[f"service_fills_per_s{suffix}"] = result.get("fills_record_100")
        out[f"service_fills_per_s_one_per_txn{suffix}"] = result.get("commit_each")
        out[f"service_fills_per_s_batched{suffix}"] = result.get("batched")
        out[f"service_fills_per_s_fills_record_100{suffix}"] = result.get("fills_record_100")
        out[f"service_fills_per_s_fills_record_10{suffix}"] = result.get("fills_record_10")
        out[f"service_fills_per_s_with_push{suffix}"] = result.get("with_push")
        out[f"report_path_fills_per_s_burst_100{suffix}"] = result.get("report_path_100")
        out[f"report_path_fills_per_s_one_per_txn{suffix}"] = result.get("report_path_1")
        out[f"commits_per_s{suffix}"] = result.get("commits")
        if result:
            runs.append(result)
    out["service_rebuild_identical"] = bool(runs) and all(r["rebuild_identical"] for r in runs)
    return out


BENCHMARKS: tuple[Callable[[], dict[str, float]], ...] = (bench_core, bench_rebuild, bench_service)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--service-fills", type=int, default=SERVICE_FILLS)
    parser.add_argument("--service-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["core", "service"])
    args = parser.parse_args()
    if args.service_child:
        print(json.dumps(_service_child(args.service_fills)))
        return
    results: dict[str, object] = {
        "host_cpus": os.cpu_count(),
        "host_load_1m": round(os.getloadavg()[0], 2),
    }
    for benchmark in BENCHMARKS:
        if benchmark is bench_service:
            if args.only != "core":
                results.update(bench_service(args.service_fills))
        elif args.only != "service":
            results.update(benchmark())
    print(json.dumps(results))


if __name__ == "__main__":
    main()
