"""Strategy signals through the running stack: webhook → every account's order persisted.

    python bench/signals_live.py [--accounts 50] [--signals 20] [--gap 1.5]
                                 [--port 8170] [--web-workers CPUS] [--worker-concurrency 2xCPUS]

Starts its own stack (`python -m oms_site.run`: uvicorn, the Celery worker, beat) on
`BENCH_DATABASE_URL` (default mysql://root@127.0.0.1:3306/oms_signals_bench, dropped and
re-created) and `BENCH_REDIS_URL` (default redis://127.0.0.1:6379/7, flushed), with no market
feed; creates N paper accounts, a quote and a strategy over them (fixed 1 share each) through
the API; then sends signed signals over HTTP, one at a time, `--gap` seconds apart (each
signal's orders are filled by the paper broker meanwhile, as in real use), and for each one
measures, from the moment the POST starts:

webhook_answer_ms  until the 202 is in hand (target p95 < 50 ms);
persisted_ms       until all N orders of the signal are committed — counted in the database
                   every few ms by a separate connection (the link row of each order is
                   written in the order's own transaction). The live path: the webhook
                   enqueues the fan-out, which splits the accounts into chunks of
                   OMS_SIGNAL_FANOUT_CHUNK run by the worker's processes side by side.
                   Target p95 < 1000 ms.
cpu_ms_per_signal  CPU of every process (web, worker, beat, database, redis, this client) per
                   signal, by role: what a signal costs whatever else the machine does.

Prints ONE JSON object. Not a test: nothing is asserted; the numbers are for reading.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import (  # the sibling module the stack benchmarks share
    Api,
    Stack,
    cpu_seconds_by_role,
    drop_mysql_database,
    log,
    mysql_connect,
    percentile,
    setup_trading,
)

DEFAULT_DB = "mysql://root@127.0.0.1:3306/oms_signals_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/7"


def _database_counter(url: str):
    """→ count(signal_id): the committed orders of one signal, read by its own connection."""
    conn = mysql_connect(url, autocommit=True)
    cursor = conn.cursor()

    def count(signal_id: str) -> int:
        cursor.execute(
            "SELECT COUNT(*) FROM strategies_strategyorder WHERE signal_id = %s",
            [signal_id.replace("-", "")],
        )
        return int(cursor.fetchone()[0])

    return count


def _create_strategy(api: Api, accounts: list[str]) -> tuple[str, str]:
    status, body = api.call(
        "POST",
        "/api/v1/strategies",
        {
            "name": "Signals bench",
            "accounts": [
                {"account": account, "sizing": {"type": "fixed_qty", "qty": "1"}}
                for account in accounts
            ],
        },
    )
    if status != 201:
        raise SystemExit(f"could not create the strategy: {status} {body}")
    return body["id"], body["webhook_secret"]


def _send_signal(
    port: int, strategy_id: str, secret: str, alert_id: str
) -> tuple[float, float, str]:
    """POST one signed signal on a fresh connection (as TradingView does) → (answer ms, id)."""
    raw = json.dumps({"symbol": "ACME", "action": "buy", "id": alert_id}).encode()
    signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    conn.request(
        "POST",
        f"/api/v1/signals/{strategy_id}",
        body=raw,
        headers={"Content-Type": "application/json", "X-Signature": signature},
    )
    response = conn.getresponse()
    body = response.read()
    answer_ms = (time.perf_counter() - started) * 1000
    conn.close()
    if response.status != 202:
        raise SystemExit(f"the webhook answered {response.status}: {body[:300]!r}")
    return started, answer_ms, json.loads(body)["signal_id"]


def _wait_persisted(count, signal_id: str, expected: int, started: float) -> float:
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline:
        if count(signal_id) >= expected:
            return (time.perf_counter() - started) * 1000
        time.sleep(0.004)
    raise SystemExit(f"signal {signal_id}: not all {expected} orders persisted within 60 s")


def _measure(args, port: int, strategy_id: str, secret: str, count, stack_pid) -> dict:
    for warmup in range(3):
        started, _, signal_id = _send_signal(port, strategy_id, secret, f"warm-{warmup}")
        _wait_persisted(count, signal_id, args.accounts, started)
        time.sleep(args.gap)
    answers, persisted = [], []
    cpu_before = cpu_seconds_by_role(stack_pid)
    for number in range(args.signals):
        started, answer_ms, signal_id = _send_signal(port, strategy_id, secret, f"s-{number}")
        answers.append(answer_ms)
        persisted.append(_wait_persisted(count, signal_id, args.accounts, started))
        time.sleep(args.gap)
    cpu_after = cpu_seconds_by_role(stack_pid)
    cpu = {
        role: round((cpu_after.get(role, 0.0) - cpu_before.get(role, 0.0)) * 1000 / args.signals)
        for role in sorted(set(cpu_after) | set(cpu_before))
    }
    return {
        "webhook_answer_ms_p50": percentile(answers, 50),
        "webhook_answer_ms_p95": percentile(answers, 95),
        "persisted_ms_p50": percentile(persisted, 50),
        "persisted_ms_p95": percentile(persisted, 95),
        "persisted_ms_max": round(max(persisted), 1),
        "cpu_ms_per_signal": cpu,
        "cpu_ms_per_signal_total": sum(cpu.values()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--signals", type=int, default=20)
    parser.add_argument("--gap", type=float, default=1.5, help="seconds between signals")
    parser.add_argument("--port", type=int, default=8170)
    parser.add_argument("--web-workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--worker-concurrency", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--chunk", type=int, default=None, help="OMS_SIGNAL_FANOUT_CHUNK")
    args = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS),
            "HOST": "127.0.0.1",
            "PORT": str(args.port),
            "WEB_CONCURRENCY": str(args.web_workers),
            "OMS_WORKER_CONCURRENCY": str(args.worker_concurrency),
            "OMS_FEED": "none",
            "OMS_API_USER_RATE": "10000000/min",
            "DB_CONN_MAX_AGE": os.environ.get("BENCH_DB_CONN_MAX_AGE", "0"),
            "CELERY_LOG_LEVEL": "WARNING",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "oms_site.settings",
        }
    )
    if args.chunk:
        env["OMS_SIGNAL_FANOUT_CHUNK"] = str(args.chunk)
    if database_url == DEFAULT_DB:
        drop_mysql_database(database_url)
    stack = Stack(base_url=f"http://127.0.0.1:{args.port}", env=env)
    try:
        stack.prepare()
        stack.start()
        key, accounts = setup_trading(stack, "ACME", args.accounts)
        api = Api(stack.base_url, key)
        strategy_id, secret = _create_strategy(api, accounts)
        api.close()
        log(f"{args.signals} signals over {args.accounts} accounts, {args.gap:g} s apart")
        stack_pid = stack.process.pid if stack.process else None
        figures = _measure(
            args, args.port, strategy_id, secret, _database_counter(database_url), stack_pid
        )
    finally:
        stack.stop()
    figures.update(
        {
            "accounts": args.accounts,
            "signals": args.signals,
            "web_workers": args.web_workers,
            "worker_concurrency": args.worker_concurrency,
            "fanout_chunk": args.chunk or "default",
            "host_cpus": os.cpu_count(),
            "host_load_1m": round(os.getloadavg()[0], 2),
        }
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
