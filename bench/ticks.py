"""Tick ingest throughput. Prints ONE JSON object.

Run from the repo root: ``python bench/ticks.py [--ticks N] [--batch B]``.

Keys
----
ticks_per_s_sqlite   ticks/s through the whole ingest path (parse + validate, ordered quote
                     update, 1m bar upsert, listener dispatch with none registered, quote
                     cache, throttled live push) in batches of B, on a temporary SQLite file
                     with the in-memory channel layer.
ticks_per_s_mysql    the same on MariaDB (database ``oms_md_bench``) + Redis db 4 (quote
                     cache and channel layer); null if either is unreachable.
ticks_per_s_single_sqlite / ticks_per_s_single_mysql
                     one tick per call (``tick_ingest``), i.e. without batching.
dispatch_us          cost of one tick's listener dispatch with one no-op listener.
dispatch_us_empty    the same with no listener registered.

Each database part runs in its own child process (Django settings are per process); ticks
are pre-built raw dicts with string prices, as a feed or the API hands them over, for five
symbols with increasing timestamps; only the ingest calls are timed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

SYMBOLS = ["BNA", "BNB", "BNC", "BND", "BNE"]
MYSQL_URL = os.environ.get("BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/oms_md_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")


def make_ticks(count: int, start: datetime) -> list[dict]:
    ticks = []
    price = {s: 1000 + 100 * i for i, s in enumerate(SYMBOLS)}
    for n in range(count):
        symbol = SYMBOLS[n % len(SYMBOLS)]
        step = ((n * 7919) % 11) - 5  # a deterministic wiggle, in ticks of 0.05
        price[symbol] = max(100, price[symbol] + step)
        last = price[symbol] * 5  # in paise-of-0.01: 0.05 multiples
        ts = start + timedelta(milliseconds=100 * (n // len(SYMBOLS)))
        ticks.append(
            {
                "symbol": symbol,
                "last": f"{last / 100:.2f}",
                "bid": f"{(last - 5) / 100:.2f}",
                "ask": f"{(last + 5) / 100:.2f}",
                "volume": str(1 + n % 50),
                "ts": ts.isoformat(),
            }
        )
    return ticks


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms_site.settings")
    import django

    django.setup()


def _prepare_db() -> None:
    from django.core.management import call_command

    from marketdata.models import Bar, Exchange, Instrument, Quote

    call_command("migrate", verbosity=0, interactive=False)
    exchange, _ = Exchange.objects.get_or_create(
        code="SIM", defaults={"always_open": True, "timezone": "UTC"}
    )
    for symbol in SYMBOLS:
        Instrument.objects.get_or_create(symbol=symbol, defaults={"exchange": exchange})
    Bar.objects.filter(instrument__symbol__in=SYMBOLS).delete()
    Quote.objects.filter(symbol__in=SYMBOLS).delete()


def child(part: str, count: int, batch: int) -> dict:
    _setup_django()
    from django.core.cache import cache

    from marketdata import listeners, services
    from marketdata.push import quote_publisher, reset_quote_publisher

    _prepare_db()
    cache.clear() if part == "mysql" else None
    listeners.TICK_LISTENERS.restore({})  # "listeners with none registered"
    reset_quote_publisher()
    quote_publisher()  # build it (and its loop thread) outside the timing

    start = datetime.now(UTC) - timedelta(days=1)
    ticks = make_ticks(count, start)
    # Warm up (first queries, code paths) on a few ticks stamped before the timed ones.
    services.ticks_ingest(ticks=make_ticks(50, start - timedelta(hours=1)))

    began = time.perf_counter()
    applied = 0
    for i in range(0, len(ticks), batch):
        applied += sum(r.applied for r in services.ticks_ingest(ticks=ticks[i : i + batch]))
    batched = len(ticks) / (time.perf_counter() - began)
    if applied != len(ticks):
        raise SystemExit(f"only {applied} of {len(ticks)} ticks applied")

    singles = make_ticks(min(500, count), start + timedelta(hours=2))
    began = time.perf_counter()
    for raw in singles:
        services.tick_ingest(**raw)
    single = len(singles) / (time.perf_counter() - began)
    return {f"ticks_per_s_{part}": round(batched), f"ticks_per_s_single_{part}": round(single)}


def dispatch_cost() -> dict:
    from decimal import Decimal

    from marketdata import listeners
    from marketdata.listeners import AppliedTick, dispatch_tick, register_tick_listener

    tick = AppliedTick(
        symbol="BNA",
        last=Decimal("100"),
        bid=Decimal("99.95"),
        ask=Decimal("100.05"),
        volume=Decimal("1"),
        ts=datetime.now(UTC),
    )
    saved = listeners.TICK_LISTENERS.snapshot()
    out = {}
    try:
        for key, registered in (("dispatch_us_empty", False), ("dispatch_us", True)):
            listeners.TICK_LISTENERS.restore({})
            if registered:
                register_tick_listener("bench.noop", lambda t: None)
            n = 200_000
            best = float("inf")
            for _ in range(5):
                began = time.perf_counter()
                for _ in range(n):
                    dispatch_tick(tick)
                best = min(best, time.perf_counter() - began)
            out[key] = round(best / n * 1e6, 3)
    finally:
        listeners.TICK_LISTENERS.restore(saved)
    return out


def mysql_reachable() -> bool:
    try:
        import MySQLdb
        import redis
    except ImportError:
        return False
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
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
        conn.cursor().execute(
            f"CREATE DATABASE IF NOT EXISTS `{name}` "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
        conn.close()
        return True
    except Exception as exc:  # noqa: BLE001 - any failure means "not available": reported
        print(
            f"bench/ticks.py: MariaDB/Redis unavailable ({exc}); ticks_per_s_mysql = null",
            file=sys.stderr,
        )
        return False


def run_child(part: str, env: dict, count: int, batch: int) -> dict | None:
    cmd = [sys.executable, __file__, "--child", part, "--ticks", str(count), "--batch", str(batch)]
    full_env = {**os.environ, **env, "LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        cmd, env=full_env, cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        print(f"bench/ticks.py: {part} part failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ticks", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--child", choices=["sqlite", "mysql"])
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.ticks, args.batch)))
        return

    result: dict = {"ticks": args.ticks, "batch": args.batch}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_env = {"DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3", "REDIS_URL": ""}
        result.update(
            run_child("sqlite", sqlite_env, args.ticks, args.batch)
            or {"ticks_per_s_sqlite": None, "ticks_per_s_single_sqlite": None}
        )
    mysql = None
    if mysql_reachable():
        mysql = run_child(
            "mysql", {"DATABASE_URL": MYSQL_URL, "REDIS_URL": REDIS_URL}, args.ticks, args.batch
        )
    result.update(mysql or {"ticks_per_s_mysql": None, "ticks_per_s_single_mysql": None})
    _setup_django()
    result.update(dispatch_cost())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
