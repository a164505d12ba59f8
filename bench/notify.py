"""Notifications benchmark: fills → signed webhooks (and email digests) through real Celery
workers. Prints ONE JSON object.

    python bench/notify.py [--fills 1000] [--users 100] [--rate 50] [--workers 4]
                           [--pool prefork|threads] [--no-email]
                           [--database-url mysql://root@127.0.0.1:3306/hJ]
                           [--redis-url redis://127.0.0.1:6379/4]

Against a fresh MariaDB database (dropped and re-created) and a Redis db as the Celery
broker: USERS users in pairs on USERS/2 paper accounts, each with a webhook for
order.filled (a local HTTP receiver in this process that checks X-OMS-Signature) and email
on for fills too (file backend; `--no-email`: webhooks only, as fills are by default).
FILLS orders are placed (left pending: no execution worker) and then filled by execution
reports at RATE fills/s through the one report service, as a venue's fills arrive; each
fill's transaction stores one notification per member and its deliveries, which
`celery worker -Q notifications` processes (WORKERS processes or threads).

event_to_webhook_ms_p50/p95/max  from the fill's commit to its webhook arriving at the
                  receiver (one sample per member per fill). Target p95 < 2000 ms.
deliveries        every delivery's final status (all `sent` when done), webhook_received
                  (signature-checked, distinct ids) and duplicates (the same id twice).
emails            messages written by the email backend vs email deliveries: digests keep
                  a burst to a few messages per user (no storm).
fill_commit_ms_p50/p95  the report service's time per fill, notifications included.
Not a test: nothing is asserted; the numbers are for reading.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from stack import log, percentile  # noqa: E402 - the benches' shared output helpers


class Receiver:
    """Checks each POST's signature and notes when each (id) arrived."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}  # path → secret
        self.arrivals: dict[str, float] = {}  # delivery id → first arrival
        self.orders: dict[str, str] = {}  # delivery id → order id
        self.duplicates = 0
        self.bad_signatures = 0
        self.lock = threading.Lock()

    def take(self, path: str, body: bytes, header: str) -> int:
        from notifications.webhooks import signature_verify

        now = time.time()
        if not signature_verify(secret=self.secrets.get(path, ""), body=body, header=header):
            with self.lock:
                self.bad_signatures += 1
            return 401
        payload = json.loads(body)
        with self.lock:
            if payload["id"] in self.arrivals:
                self.duplicates += 1
            else:
                self.arrivals[payload["id"]] = now
                self.orders[payload["id"]] = payload["data"]["order"]["id"]
        return 200


def serve(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # http.server's hook name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = receiver.take(self.path, body, self.headers.get("X-OMS-Signature", ""))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def fresh_database(url: str) -> None:
    import MySQLdb

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    conn = MySQLdb.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username or "root",
        passwd=parts.password or "",
    )
    cursor = conn.cursor()
    cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fills", type=int, default=1000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--rate", type=float, default=50.0, help="fills per second")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--pool", default="prefork", choices=["prefork", "threads"])
    parser.add_argument(
        "--no-email", action="store_true", help="webhooks only (email is off for fills by default)"
    )
    parser.add_argument("--database-url", default="mysql://root@127.0.0.1:3306/hJ")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/4")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()

    mail_dir = tempfile.mkdtemp(prefix="oms_notify_bench_mail_")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "oms_site.settings",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "OMS_CELERY_EAGER": "0",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "OMS_WEBHOOK_ALLOW_PRIVATE": "1",
        "EMAIL_FILE_PATH": mail_dir,
    }
    os.environ.update(env)
    log(f"fresh database {args.database_url}")
    fresh_database(args.database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()

    worker = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "oms_site",
            "worker",
            "-Q",
            "notifications",
            "-c",
            str(args.workers),
            "-P",
            args.pool,
            "-l",
            "warning",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=sys.stderr,  # stdout carries only the JSON result
        start_new_session=True,
    )
    try:
        result = run(args, mail_dir)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
    print(json.dumps(result, indent=2))


def run(args: argparse.Namespace, mail_dir: str) -> dict[str, object]:
    from decimal import Decimal

    from django.utils import timezone

    from accounts.models import AccountMembership, TradingAccount, User
    from execution.protocol import ExecutionReport, ReportType
    from marketdata.models import Exchange, Instrument
    from marketdata.services import tick_ingest
    from notifications.models import Delivery
    from notifications.services_delivery import preferences_update, webhook_create
    from orders.services import order_apply_report, order_place

    receiver = Receiver()
    server = serve(receiver)
    base = f"http://127.0.0.1:{server.server_address[1]}"

    log("setting up users, accounts, webhooks")
    exchange = Exchange.objects.create(code="BENCH", name="Bench", timezone="UTC", always_open=True)
    Instrument.objects.create(
        symbol="ACME",
        name="Acme",
        exchange=exchange,
        tick_size=Decimal("0.01"),
        lot_size=Decimal("1"),
    )
    tick_ingest(symbol="ACME", last="100", bid="99.99", ask="100.01", volume=1, source="bench")
    accounts = []
    for index in range(args.users // 2):
        account = TradingAccount.objects.create(
            name=f"Bench {index}", broker="paper", cash=Decimal("1e9"), starting_cash=Decimal("1e9")
        )
        accounts.append(account)
        for member in range(2):
            user = User.objects.create(
                username=f"bench{index}_{member}",
                role="trader",
                email=f"bench{index}_{member}@example.com",
            )
            AccountMembership.objects.create(
                user=user, account=account, role="owner" if member == 0 else "trade"
            )
            channels = ["in_app", "webhook"] if args.no_email else ["in_app", "email", "webhook"]
            preferences_update(user=user, data={"channels": {"order.filled": channels}})
            path = f"/hook/{user.pk}"
            issued = webhook_create(user=user, url=base + path, events=["order.filled"])
            receiver.secrets[path] = issued.secret
    owner_of = {a.pk: a.memberships.order_by("role").first().user for a in accounts}

    log(f"placing {args.fills} orders")
    orders = []
    for index in range(args.fills):
        account = accounts[index % len(accounts)]
        orders.append(
            order_place(
                user=owner_of[account.pk],
                account_id=account.pk,
                symbol="ACME",
                side="buy",
                order_type="limit",
                qty=Decimal("1"),
                limit_price=Decimal("100"),
                time_in_force="day",
            ).order
        )

    log(f"filling them at {args.rate}/s")
    committed: dict[str, float] = {}
    commit_ms: list[float] = []
    start = time.time()
    for index, order in enumerate(orders):
        due = start + index / args.rate
        if (wait := due - time.time()) > 0:
            time.sleep(wait)
        began = time.perf_counter()
        order_apply_report(
            ExecutionReport(
                report_id=f"bench-{order.pk}",
                order_id=str(order.pk),
                type=ReportType.FILL,
                ts=timezone.now(),
                fill_qty=Decimal("1"),
                fill_price=Decimal("100"),
            )
        )
        commit_ms.append((time.perf_counter() - began) * 1000)
        committed[str(order.pk)] = time.time()
    fill_seconds = time.time() - start

    expected_webhooks = Delivery.objects.filter(channel="webhook").count()
    log(f"waiting for {expected_webhooks} webhooks and every delivery to finish")
    deadline = time.time() + args.timeout
    while time.time() < deadline:
        pending = Delivery.objects.filter(status="pending").count()
        if pending == 0 and len(receiver.arrivals) >= expected_webhooks:
            break
        time.sleep(0.5)
    done_after = time.time() - start
    latencies = [
        (arrived - committed[receiver.orders[delivery_id]]) * 1000
        for delivery_id, arrived in receiver.arrivals.items()
        if receiver.orders[delivery_id] in committed
    ]
    statuses: dict[str, dict[str, int]] = {}
    for channel, status in Delivery.objects.values_list("channel", "status"):
        statuses.setdefault(channel, {}).setdefault(status, 0)
        statuses[channel][status] += 1
    mails = len(list(Path(mail_dir).glob("*.log")))
    server.shutdown()
    return {
        "bench": "notify",
        "fills": args.fills,
        "users": args.users,
        "rate_fills_per_s": args.rate,
        "workers": args.workers,
        "pool": args.pool,
        "email_on": not args.no_email,
        "fill_seconds": round(fill_seconds, 2),
        "all_done_seconds": round(done_after, 2),
        "event_to_webhook_ms_p50": percentile(latencies, 50),
        "event_to_webhook_ms_p95": percentile(latencies, 95),
        "event_to_webhook_ms_max": percentile(latencies, 100),
        "fill_commit_ms_p50": percentile(commit_ms, 50),
        "fill_commit_ms_p95": percentile(commit_ms, 95),
        "deliveries": statuses,
        "webhook_expected": expected_webhooks,
        "webhook_received": len(receiver.arrivals),
        "webhook_duplicates": receiver.duplicates,
        "webhook_bad_signatures": receiver.bad_signatures,
        "email_deliveries": sum(statuses.get("email", {}).values()),
        "emails_written": mails,
        "host_cpus": os.cpu_count(),
        "host_load_1m": round(os.getloadavg()[0], 2),
        "database": args.database_url.split("@")[-1],
    }


if __name__ == "__main__":
    main()
