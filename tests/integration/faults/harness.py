"""The real stack under fault: a private redis-server the suite may stop, the stack's own
MariaDB database, `python -m oms_site.run`, and the order load that retries like a client.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil

from oms_site.embedded_redis import free_tcp_port
from oms_site.run import fetch_health
from tests.integration.stack_env import real_stack_env

BASE_DIR = Path(__file__).resolve().parents[3]
STACK_DB_SCRIPT = Path(__file__).with_name("stack_db.py")


# --- services ---------------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server on a free loopback port, no persistence: a restart loses everything
    queued in it, as a crashed Redis without AOF would."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_tcp_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True
            ).stdout.strip()
            != "PONG"
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("private redis-server did not answer")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


class DatabaseProxy:
    """A TCP proxy between the stack and MariaDB (shared by others, so never stopped): the
    suite takes "the database" down by dropping every connection through it and refusing
    new ones, then brings it back."""

    def __init__(self, database_url: str) -> None:
        parts = urlsplit(database_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 3306)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def url_for(self, database_url: str) -> str:
        """`database_url` through this proxy."""
        parts = urlsplit(database_url)
        auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{self.port}"))

    def down(self) -> None:
        self.up = False
        with self._lock:
            doomed, self._open = self._open, set()
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.down()
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass  # one side closed (or the proxy dropped both): close the pair below
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)


def stack_database_url(database_url: str) -> str:
    """The suite's own database next to the configured one (…/test → …/test_faults)."""
    parts = urlsplit(database_url)
    name = parts.path.strip("/") or "oms"
    return urlunsplit(parts._replace(path=f"/{name}_faults"))


def mysql_connect(database_url: str, *, database: bool = True):
    import MySQLdb

    parts = urlsplit(database_url)
    options = {"database": parts.path.strip("/")} if database else {}
    return MySQLdb.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        **options,
    )


def open_orders(database_url: str, prefix: str) -> int:
    """Orders of the phase `prefix` not filled yet (read straight from the stack's database)."""
    connection = mysql_connect(database_url)
    try:
        cursor = connection.cursor()
        cursor.execute(
            "SELECT COUNT(*) FROM orders_order WHERE tag LIKE %s AND status <> 'filled'",
            (f"{prefix}-%",),
        )
        return int(cursor.fetchone()[0])
    finally:
        connection.close()


def _drop_database(database_url: str) -> None:
    parts = urlsplit(database_url)
    connection = mysql_connect(database_url, database=False)
    try:
        name = parts.path.strip("/").replace("`", "``")
        connection.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        connection.close()


def _stack_env(database_url: str, redis_url: str) -> dict[str, str]:
    return real_stack_env(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "OMS_FEED": "none",
            "OMS_WORKER_CONCURRENCY": "2",
            "OMS_EXCHANGE_SHARDS": "1",
            "OMS_STOP_TIMEOUT": "10",
            "OMS_API_USER_RATE": "100000/min",
            "LOG_LEVEL": "WARNING",
            "CELERY_LOG_LEVEL": "WARNING",
        }
    )


def prepare_database(database_url: str, redis_url: str) -> dict:
    """A fresh, migrated database with the probe's accounts; returns their ids and API key."""
    env = _stack_env(database_url, redis_url)
    _drop_database(database_url)
    for argv in (["-m", "oms_site.run", "--ensure-database"], ["manage.py", "migrate", "-v0"]):
        subprocess.run([sys.executable, *argv], cwd=BASE_DIR, env=env, check=True, timeout=600)
    return stack_db(database_url, redis_url, "setup")


def stack_db(database_url: str, redis_url: str, *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, str(STACK_DB_SCRIPT), *args],
        cwd=BASE_DIR,
        env=_stack_env(database_url, redis_url),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"stack_db {args} failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- the stack --------------------------------------------------------------------------------


class Stack:
    def __init__(self, database_url: str, redis_url: str, log_path: Path) -> None:
        self.port = free_tcp_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = _stack_env(database_url, redis_url)
        env["PORT"] = str(self.port)
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "oms_site.run"],
                cwd=BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def health(self) -> tuple[int, dict]:
        return fetch_health(f"{self.url}/healthz", timeout=3)

    def wait_ok(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the stack exited:\n{self.log[-5000:]}")
            status, body = self.health()
            workers = body.get("checks", {}).get("celery", {}).get("workers", [])
            ready = any(name.startswith("worker@") for name in workers)
            if status == 200 and body.get("status") == "ok" and ready:
                return
            time.sleep(0.5)
        raise RuntimeError(f"the stack is not green:\n{self.log[-5000:]}")

    def child(self, *words: str) -> psutil.Process:
        """The supervisor's direct child whose command line has every word."""
        for proc in psutil.Process(self.process.pid).children():
            try:
                cmdline = " ".join(proc.cmdline())
            except psutil.Error:
                continue
            if all(word in cmdline for word in words):
                return proc
        raise LookupError(f"no child with {words}")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        tree = psutil.Process(self.process.pid).children(recursive=True)
        self.process.terminate()
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            for proc in [*tree, psutil.Process(self.process.pid)]:
                if proc.is_running():
                    proc.kill()
            self.process.wait(timeout=10)


# --- the load ---------------------------------------------------------------------------------


@dataclass
class Attempted:
    tag: str
    accepted: bool = False
    first_status: int = 0
    statuses: list[int] = field(default_factory=list)
    non_json_errors: int = 0


@dataclass
class Load:
    """Client threads placing orders, each retried with its Idempotency-Key (and, for half
    of them, its client_order_id) until an answer that is not a 5xx or a connection error.
    Every fourth paper order is posted twice at the same moment (a client that timed out
    and retried while the first request still ran): two records with one tag."""

    stack_url: str
    key: str
    accounts: dict[str, str]
    symbol: str
    phase: str
    threads: int = 4
    per_thread_interval_s: float = 0.25  # 4 threads → ~16 orders/s (a pair counts two)
    retry_for_s: float = 120.0
    orders: list[Attempted] = field(default_factory=list)
    ok_times: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for index in range(self.threads):
            thread = threading.Thread(target=self._run, args=(index,), daemon=True)
            self._workers.append(thread)
            thread.start()

    def stop(self) -> None:
        """Stop sending new orders; wait for the retries of those already sent."""
        self._stop.set()
        for thread in self._workers:
            thread.join(timeout=self.retry_for_s + 30)

    def _run(self, index: int) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            base = f"{self.phase}-{index}-{n}"
            if index % 2 == 0:  # the paper account: market orders, alternately buy and sell
                side = "buy" if n % 2 else "sell"
                self._place(f"{base}-p", self.accounts["paper"], side, "market", None, n)
            else:  # the internal exchange: a crossing pair between two accounts
                self._place(f"{base}-s", self.accounts["seller"], "sell", "limit", "100", n)
                self._place(f"{base}-b", self.accounts["buyer"], "buy", "limit", "100", n)
            time.sleep(self.per_thread_interval_s)

    def _place(
        self, tag: str, account: str, side: str, kind: str, price: str | None, n: int
    ) -> None:
        body = {
            "account": account,
            "symbol": self.symbol,
            "side": side,
            "type": kind,
            "qty": "1",
            "limit_price": price,
            "time_in_force": "day",
            "tag": tag,
            "client_order_id": tag if n % 2 == 0 else None,
        }
        twin = None
        if kind == "market" and n % 4 == 0:
            twin = threading.Thread(target=self._until_answered, args=(body, tag), daemon=True)
            twin.start()
        self._until_answered(body, tag)
        if twin is not None:
            twin.join()

    def _until_answered(self, body: dict, tag: str) -> None:
        attempt = Attempted(tag=tag)
        with self._lock:
            self.orders.append(attempt)
        deadline = time.monotonic() + self.retry_for_s
        while time.monotonic() < deadline:
            status, is_json, retry_after = self._post(body, idempotency_key=tag)
            attempt.statuses.append(status)
            attempt.first_status = attempt.first_status or status
            if status and not is_json:
                attempt.non_json_errors += 1
            if 200 <= status < 300:
                attempt.accepted = True
                with self._lock:
                    self.ok_times.append(time.monotonic())
                return
            if 400 <= status < 500 and status != 429:
                return  # refused for good (counted as not accepted)
            time.sleep(min(retry_after or 0.5, 2.0))

    def _post(self, body: dict, *, idempotency_key: str) -> tuple[int, bool, float]:
        request = urllib.request.Request(
            f"{self.stack_url}/api/v1/orders",
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Token {self.key}",
                "Idempotency-Key": idempotency_key,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, True, 0.0
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                is_json = "error" in json.loads(raw or b"{}")
            except ValueError:
                is_json = False
            return exc.code, is_json, float(exc.headers.get("Retry-After") or 0)
        except (OSError, TimeoutError):
            return 0, True, 0.0  # no answer at all (connection refused/reset, timeout)


def unique_phase(name: str) -> str:
    return f"f-{name}-{uuid.uuid4().hex[:4]}"
