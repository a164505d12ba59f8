"""What the stack benchmarks share: start and stop a stack of their own (`python -m
oms_site.run` on its own database and Redis db), a tiny keep-alive JSON client, the bench
trading set-up (user, API key, paper accounts, a quote) and CPU seconds by process role."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_DB = "mysql://root@127.0.0.1:3306/oms_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/6"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return round(ordered[index], 2)


# ----------------------------------------------------------------------------- HTTP


class Api:
    """A tiny keep-alive JSON client (one per thread: http.client is not thread-safe)."""

    def __init__(self, base_url: str, key: str | None) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit("the bench only talks to a stack on localhost")
        self.host, self.port = parts.hostname, parts.port or 80
        self.key = key
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        if self.key:
            headers["Authorization"] = f"Token {self.key}"
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                response = self.conn.getresponse()
                raw = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt:
                    raise
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode(errors="replace")[:200]
        return response.status, data

    def close(self) -> None:
        self.conn.close()


# ----------------------------------------------------------------------------- the stack


def mysql_connect(url: str, *, database: bool = True, **options: Any):
    """A MySQLdb connection to the server of `url` (to its database unless `database` is
    False)."""
    import MySQLdb

    parts = urllib.parse.urlparse(url)
    if database:
        options["db"] = parts.path.lstrip("/")
    return MySQLdb.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        passwd=parts.password or "",
        **options,
    )


def drop_mysql_database(url: str) -> None:
    parts = urllib.parse.urlparse(url)
    conn = mysql_connect(url, database=False)
    try:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{parts.path.lstrip('/')}`")
    finally:
        conn.close()


@dataclass
class Stack:
    base_url: str
    env: dict[str, str]
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode:
            raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-2000:]}")
        return result.stdout

    def prepare(self) -> None:
        if self.env["DATABASE_URL"] == DEFAULT_DB:
            # The bench's own database, afresh each run: orders another run left pending
            # would be re-sent by the sweeper during the load and skew every figure.
            drop_mysql_database(DEFAULT_DB)
        if self.env["REDIS_URL"] == DEFAULT_REDIS:
            import redis

            redis.Redis.from_url(DEFAULT_REDIS).flushdb()  # its queues: no task of a past run
        log("creating / migrating / seeding the bench database")
        subprocess.run(
            [PYTHON, "-m", "oms_site.run", "--ensure-database"],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
        )
        self.manage("migrate", "--noinput")
        self.manage("seed_demo")

    def start(self, *, timeout: float = 120) -> None:
        port = urllib.parse.urlsplit(self.base_url).port
        self.log_path = ROOT / "var" / f"bench_stack_{port}.log"
        handle = self.log_path.open("w")
        log(f"starting the stack on {self.base_url} (log: {self.log_path})")
        self.process = subprocess.Popen(
            [PYTHON, "-m", "oms_site.run"],
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"the stack exited early (code {self.process.returncode}); see {self.log_path}"
                )
            if "OMS is running at" in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.5)
        raise SystemExit(f"the stack did not come up in {timeout:g}s; see {self.log_path}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        log("stopping the stack")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def setup_trading(stack: Stack, symbol: str, accounts: int = 1) -> tuple[str, list[str]]:
    """A bench user with an API key, paper account(s) with ample cash, a quote.
    → (key, account ids)."""
    suffix = uuid.uuid4().hex[:6]
    admin_key = (
        stack.manage("issue_api_key", f"benchadmin{suffix}", "--create", "--role", "admin")
        .strip()
        .splitlines()[-1]
    )
    user_key = (
        stack.manage("issue_api_key", f"bench{suffix}", "--create", "--role", "trader")
        .strip()
        .splitlines()[-1]
    )
    admin, user = Api(stack.base_url, admin_key), Api(stack.base_url, user_key)
    account_ids = []
    for index in range(max(1, accounts)):
        status, body = user.call(
            "POST",
            "/api/v1/accounts",
            {
                "name": f"Bench {suffix} #{index}",
                "broker": "paper",
                "starting_cash": "100000000000",
            },
        )
        if status != 201:
            raise SystemExit(f"could not create the bench account: {status} {body}")
        account_ids.append(body["id"])
    status, body = admin.call(
        "POST",
        "/api/v1/market-data/ticks",
        {"symbol": symbol, "last": "100.00", "bid": "99.95", "ask": "100.05", "volume": 1},
    )
    if status not in (200, 201, 202):
        raise SystemExit(f"could not post the quote: {status} {body}")
    admin.close()
    user.close()
    return user_key, account_ids


# ----------------------------------------------------------------------------- CPU


def _process_role(proc: Any) -> str:
    cmdline = " ".join(proc.cmdline())
    if "mariadbd" in cmdline or "mysqld" in cmdline:
        return "database"
    if "redis-server" in cmdline:
        return "redis"
    if "exchange-shard" in cmdline:
        return "exchange_shard"
    if " beat" in cmdline:
        return "beat"
    if "celery" in cmdline:
        return "worker"
    if "uvicorn" in cmdline or "multiprocessing" in cmdline:
        return "web"
    if proc.pid == os.getpid():
        return "bench_client"
    return "supervisor_feed"


def cpu_seconds_by_role(stack_pid: int | None) -> dict[str, float]:
    """User+system CPU seconds so far of the stack's processes, MariaDB, Redis and this
    client, by role: read twice, the difference per order says where an order's CPU goes."""
    import psutil

    procs = [psutil.Process()]
    if stack_pid is not None:
        root = psutil.Process(stack_pid)
        procs += [root, *root.children(recursive=True)]
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] in ("mariadbd", "mysqld", "redis-server"):
            procs.append(proc)
    totals: dict[str, float] = {}
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            times = proc.cpu_times()
            role = _process_role(proc)
            totals[role] = totals.get(role, 0.0) + times.user + times.system
    return totals


def machine() -> dict[str, Any]:
    """What the figures were measured on: CPU model and count, memory, load averages."""
    import platform

    import psutil

    model = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_1m_5m_15m": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }


def burst_sizes(database_url: str, since_epoch: float) -> dict[str, Any]:
    """How the orders submitted since `since_epoch` were grouped into bursts: the audit
    trail's `submitted` events carry their burst's size (orders/core/submit_burst.py)."""
    conn = mysql_connect(database_url)
    try:
        cursor = conn.cursor()
        cursor.execute(
            "SELECT JSON_VALUE(data, '$.burst') FROM orders_orderevent "
            "WHERE type = 'submitted' AND at >= %s",
            # Django keeps UTC in MySQL's naive DATETIME columns.
            (datetime.fromtimestamp(since_epoch, tz=UTC).replace(tzinfo=None),),
        )
        sizes = [int(row[0]) for row in cursor.fetchall() if row[0] is not None]
    finally:
        conn.close()
    if not sizes:
        return {"orders_in_bursts": 0}
    # Each order reports its burst's size: a burst of n is seen n times.
    bursts = sum(1 / size for size in sizes)
    return {
        "orders_in_bursts": len(sizes),
        "bursts": round(bursts),
        "mean_orders_per_burst": round(len(sizes) / bursts, 1),
        "burst_size_p50_by_order": percentile([float(s) for s in sizes], 50),
        "burst_size_p95_by_order": percentile([float(s) for s in sizes], 95),
        "burst_size_max": max(sizes),
    }
