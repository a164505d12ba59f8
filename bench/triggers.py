"""Trigger engine benchmark. Prints ONE JSON object.

Run from the repo root: ``python bench/triggers.py [--triggers N] [--symbols S]``.

Setup (per database, in its own child process): S symbols on SIM, each quoted at 1000, and N
active triggers spread evenly over them and over N/100 accounts, bulk-created: 80 % held stop
orders (buy stops above the market, sell stops below), 10 % GTT triggers, 10 % trailing
stops (sells with a high-water mark above the market, buys with a low-water mark below, so
quiet ticks move no mark). Then, through the real Django evaluation path (`orders.automation.ticks.
triggers_on_tick`: one UNION of indexed range scans per tick, compare-and-set firing,
release through the risk checks, persistence, on-commit enqueue of the submission):

Keys
----
active_triggers          active trigger rows when the measurement starts
symbols                  S
ticks_per_s              ticks evaluated per second when they cross nothing (the common
                         case: a quote moving inside its band), cycling over all symbols
tick_to_order_p50_ms / tick_to_order_p99_ms
                         time from a tick to its released order persisted (committed,
                         status pending_new, submission enqueued): ticks that cross one
                         held stop each
gtt_tick_to_order_p99_ms the same for ticks that fire one GTT (a new order is placed through
                         every risk check)
uses_index               the crossing query's plan names the trigger_crossing index
*_mysql                  the same figures on MariaDB (database ``oms_aut_bench``, dropped and
                         recreated); null when it is unreachable

The unsuffixed keys are the SQLite figures (a temporary file database). Celery runs with
an in-memory broker, so "enqueued" costs what a real enqueue costs in-process, not a
submission. Targets (issue 6): ≥ 2,000 ticks/s, p99 tick → order < 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

MYSQL_URL = os.environ.get("BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/oms_aut_bench")
QUIET_TICKS = 6000
FIRING_TICKS = 380  # + WARM_FIRING = 4 stops per symbol at 100 symbols: below its first GTT
WARM_FIRING = 20
GTT_TICKS = 100


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms_site.settings")
    import django

    django.setup()


def _seed(n_triggers: int, n_symbols: int) -> dict:
    """Bulk-create instruments, quotes, one account and the triggers; returns what the
    timed part needs."""
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import TradingAccount
    from marketdata.models import Exchange, Instrument
    from marketdata.services import ticks_ingest
    from orders.models import (
        Gtt,
        HoldReason,
        Order,
        OrderStatus,
        Trigger,
        TriggerDirection,
        TriggerKind,
    )

    call_command("migrate", verbosity=0, interactive=False)
    exchange, _ = Exchange.objects.get_or_create(
        code="SIM", defaults={"always_open": True, "timezone": "UTC"}
    )
    symbols = [f"T{i:03d}" for i in range(n_symbols)]
    instruments = {
        s: Instrument.objects.get_or_create(
            symbol=s, defaults={"exchange": exchange, "tick_size": Decimal("0.05")}
        )[0]
        for s in symbols
    }
    ticks_ingest(
        ticks=[{"symbol": s, "last": "1000", "bid": "999.95", "ask": "1000.05"} for s in symbols]
    )
    from accounts.models import RiskLimits

    # The triggers belong to ACCOUNTS accounts (a broker's clients), 100 a piece at 100k.
    n_accounts = max(1, n_triggers // 100)
    accounts = TradingAccount.objects.bulk_create(
        [
            TradingAccount(name=f"bench-{i}", broker="paper", cash=Decimal("1000000000"))
            for i in range(n_accounts)
        ],
        batch_size=5000,
    )
    RiskLimits.objects.bulk_create(
        [RiskLimits(account=a, allow_short=True) for a in accounts], batch_size=5000
    )
    now = timezone.now()
    serial = 0
    per_symbol = n_triggers // n_symbols
    orders: list[Order] = []
    triggers: list[Trigger] = []
    gtts: list[Gtt] = []
    firing: dict[str, list[Decimal]] = {s: [] for s in symbols}
    gtt_levels: dict[str, list[Decimal]] = {s: [] for s in symbols}
    for symbol in symbols:
        inst = instruments[symbol]
        for k in range(per_symbol):
            account = accounts[serial % n_accounts]
            serial += 1
            kind = "stop" if k % 10 < 8 else ("gtt" if k % 10 == 8 else "trailing")
            # Levels 1001.00 … and 999.00 … away from the quiet band 999.50–1000.50.
            step = Decimal(k // 2) * Decimal("0.05")
            up = k % 2 == 0
            price = Decimal("1001") + step if up else Decimal("999") - step
            direction = TriggerDirection.UP if up else TriggerDirection.DOWN
            if kind == "gtt":
                gtt = Gtt(
                    account=account,
                    instrument=inst,
                    symbol=symbol,
                    trigger_type="single",
                    trigger_values=[str(price)],
                    orders=[{"side": "buy", "qty": "1", "type": "market", "limit_price": None}],
                    last_price=Decimal("1000"),
                    expires_at=now + timedelta(days=365),
                    created_at=now,
                    updated_at=now,
                )
                gtts.append(gtt)
                triggers.append(
                    Trigger(
                        gtt=gtt,
                        symbol=symbol,
                        kind=TriggerKind.GTT,
                        direction=direction,
                        price=price,
                        tick_size=inst.tick_size,
                    )
                )
                if up:
                    gtt_levels[symbol].append(price)
                continue
            trailing = kind == "trailing"
            side = "buy" if up else "sell"
            order = Order(
                account=account,
                instrument=inst,
                symbol=symbol,
                side=side,
                type="trailing_stop" if trailing else "stop",
                qty=Decimal("1"),
                stop_price=price,
                trail_price=Decimal("5") if trailing else None,
                est_price=price,
                time_in_force="gtc",
                status=OrderStatus.HELD,
                hold_reason=HoldReason.TRIGGER,
                broker="paper",
                created_at=now,
                updated_at=now,
                event_seq=1,
            )
            orders.append(order)
            triggers.append(
                Trigger(
                    order=order,
                    symbol=symbol,
                    kind=TriggerKind.TRAILING if trailing else TriggerKind.STOP,
                    direction=direction,
                    price=price,
                    # sells trail a high-water mark above, buys a low-water mark below:
                    # quiet ticks move neither
                    mark=(Decimal("1100") if not up else Decimal("900")) if trailing else None,
                    trail_price=Decimal("5") if trailing else None,
                    tick_size=inst.tick_size,
                )
            )
            if up and not trailing:
                firing[symbol].append(price)
    Order.objects.bulk_create(orders, batch_size=5000)
    Gtt.objects.bulk_create(gtts, batch_size=5000)
    Trigger.objects.bulk_create(triggers, batch_size=5000)
    return {"symbols": symbols, "firing": firing, "gtt_levels": gtt_levels}


def _applied(symbol: str, last: Decimal):
    from django.utils import timezone

    from marketdata.listeners import AppliedTick

    return AppliedTick(
        symbol=symbol, last=last, bid=None, ask=None, volume=Decimal(1), ts=timezone.now()
    )


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def child(part: str, n_triggers: int, n_symbols: int) -> dict:
    _setup_django()
    from django.db import connection

    from orders.automation.ticks import triggers_on_tick
    from orders.models import Order, Trigger

    seeded = _seed(n_triggers, n_symbols)
    symbols = seeded["symbols"]
    active = Trigger.objects.filter(status="active").count()
    plan = Trigger.objects.filter(
        symbol=symbols[0], status="active", direction="up", price__lte=Decimal("1000")
    ).explain()
    uses_index = "trigger_crossing" in plan

    quiet = [Decimal("999.5") + Decimal("0.05") * (i % 21) for i in range(QUIET_TICKS)]
    for i in range(200):  # warm up
        triggers_on_tick(_applied(symbols[i % len(symbols)], quiet[i]))
    began = time.perf_counter()
    for i, last in enumerate(quiet):
        fired = triggers_on_tick(_applied(symbols[i % len(symbols)], last))
        if fired:
            raise SystemExit(f"a quiet tick fired {fired}")
    ticks_per_s = QUIET_TICKS / (time.perf_counter() - began)

    if connection.vendor == "sqlite":
        # The bulk load left a large write-ahead log: fold it in before timing commits.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    # Firing ticks: each one reaches exactly the next buy stop of its symbol (the stops at
    # lower levels of that symbol fired on earlier ticks). The first WARM_FIRING ones warm
    # the code paths and are not timed.
    latencies: list[float] = []
    released: list[str] = []
    profiler = None
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        profiler = cProfile.Profile()
    for i in range(WARM_FIRING + FIRING_TICKS):
        if i == WARM_FIRING and profiler is not None:
            profiler.enable()
        symbol = symbols[i % len(symbols)]
        level = seeded["firing"][symbol].pop(0)
        began = time.perf_counter()
        ids = triggers_on_tick(_applied(symbol, level))
        if i >= WARM_FIRING:
            latencies.append((time.perf_counter() - began) * 1000)
            released.extend(ids)
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    persisted = Order.objects.filter(pk__in=released, status="pending_new").count()
    if persisted != len(released) or not released:
        raise SystemExit(f"{persisted} of {len(released)} released orders are pending_new")

    gtt_latencies: list[float] = []
    for i in range(GTT_TICKS):
        symbol = symbols[i % len(symbols)]
        level = seeded["gtt_levels"][symbol].pop(0)
        # step just past the GTT level: it also crosses the (already fired or lower) stops
        began = time.perf_counter()
        triggers_on_tick(_applied(symbol, level))
        gtt_latencies.append((time.perf_counter() - began) * 1000)

    suffix = "" if part == "sqlite" else f"_{part}"
    connection.close()
    return {
        f"active_triggers{suffix}": active,
        f"ticks_per_s{suffix}": round(ticks_per_s),
        f"tick_to_order_p50_ms{suffix}": round(statistics.median(latencies), 2),
        f"tick_to_order_p99_ms{suffix}": round(_percentile(latencies, 99), 2),
        f"gtt_tick_to_order_p99_ms{suffix}": round(_percentile(gtt_latencies, 99), 2),
        f"released_orders{suffix}": len(released),
        f"uses_index{suffix}": uses_index,
    }


def mysql_reachable() -> bool:
    try:
        import MySQLdb
    except ImportError:
        return False
    try:
        from urllib.parse import urlparse

        url = urlparse(MYSQL_URL)
        conn = MySQLdb.connect(
            host=url.hostname or "127.0.0.1",
            port=url.port or 3306,
            user=url.username or "root",
            passwd=url.password or "",
            connect_timeout=3,
        )
        name = url.path.lstrip("/")
        cursor = conn.cursor()
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        conn.close()
        return True
    except Exception as exc:  # noqa: BLE001 - any failure means "not available": reported
        print(f"bench/triggers.py: MariaDB unavailable ({exc}); *_mysql = null", file=sys.stderr)
        return False


def run_child(part: str, env: dict, n_triggers: int, n_symbols: int) -> dict | None:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        part,
        "--triggers",
        str(n_triggers),
        "--symbols",
        str(n_symbols),
    ]
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    full_env = {
        **base,
        **env,
        "LOG_LEVEL": "ERROR",
        "OMS_CELERY_EAGER": "0",
        "CELERY_BROKER_URL": "memory://",
    }
    done = subprocess.run(
        cmd, env=full_env, cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        print(f"bench/triggers.py: {part} part failed:\n{done.stderr[-3000:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--triggers", type=int, default=100_000)
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--child", choices=["sqlite", "mysql"])
    parser.add_argument("--no-mysql", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.triggers, args.symbols)))
        return
    started = datetime.now(UTC)
    out: dict = {"symbols": args.symbols}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = run_child(
            "sqlite",
            {"DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3"},
            args.triggers,
            args.symbols,
        )
    if sqlite is None:
        raise SystemExit(1)
    out.update(sqlite)
    mysql = None
    if not args.no_mysql and mysql_reachable():
        mysql = run_child("mysql", {"DATABASE_URL": MYSQL_URL}, args.triggers, args.symbols)
    for key in list(sqlite):
        out[f"{key}_mysql"] = None if mysql is None else mysql.get(f"{key}_mysql")
    out["seconds"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
