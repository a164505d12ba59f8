"""Benchmark the live stream's fan-out: many idle API-key clients on /ws/stream/, then a burst.

    python bench/ws_fanout.py [--clients 1000] [--idle 60] [--quote-rounds 10] [--symbols 50]
                              [--client-procs 2] [--web-procs 1] [--port 8171] [--redis-url URL]

It starts its own web server (uvicorn on the real ASGI app, `--web-procs` worker processes as
`WEB_CONCURRENCY` gives `make run`, with the soft file-descriptor limit raised to the hard
one) on a fresh SQLite database and its own Redis db (BENCH_REDIS_URL, default
redis://127.0.0.1:6379/6, emptied first). It creates one user, paper account and API key per
client; the clients (bench/ws_client.py on uvloop: a lean protocol, so the clients take as
little as they can of the cores they share with the server; spread over `--client-procs`
processes) connect with an `Authorization: Token` header and no Origin header, as programs
do, and each subscribes to `orders:<its account>` and `quotes:<one of --symbols symbols>`.
They stay idle for `--idle` seconds (server heartbeats and WebSocket pings only), then the
bench publishes, from its own process through the same code paths the OMS uses (publishers
warmed up first, as in a running stack), one `order.updated` per account (in transactions of
100, as the report path delivers bursts) and `--quote-rounds` rounds of one tick per symbol
(through marketdata's throttled quote publisher, 150 ms apart). The burst is over when every
client has its order and the last round's quote.

Prints ONE JSON object: connections_held (open at the end), dropped (closed by the server or
the network before the end), connect_failures, messages_expected / messages_delivered, the
quotes coalesced (a stream that was behind gets the latest quote of its symbol instead of
every one; orders are never coalesced), delivery_p50_ms / delivery_p99_ms / delivery_max_ms
(from the publish call to the client's receipt, same machine clock; also per kind), the
server's RSS before and after the clients connected and per connection, its CPU while idle
and per push in the burst (also net of the idle streams' cost), the load average at start
and end (the clients and the publisher share the machine), and the file-descriptor limits.
Not a test: nothing is asserted (targets: 5,000 held, 0 dropped, p99 < 250 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from stack import log, percentile  # noqa: E402 - the benches' shared output helpers

PYTHON = sys.executable
DEFAULT_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
CONNECTS_IN_FLIGHT = 100  # per client process: a burst of handshakes, not a flood
DRAIN_TIMEOUT_SECS = 60.0
ORDERS_PER_TRANSACTION = 100
QUOTE_ROUND_GAP_SECS = 0.15  # > the quote throttle (0.1 s): every round is delivered


def raise_fd_limit() -> tuple[int, int]:
    """Soft open-files limit up to the hard one (each connection is a descriptor)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


# ----------------------------------------------------------------------------- clients


def _sent_at(message: dict[str, Any]) -> float | None:
    data = message.get("data") or {}
    stamp = data.get("updated_at") or data.get("ts")
    return datetime.fromisoformat(stamp).timestamp() if stamp else None


async def _client_main(
    url: str, plan: list[tuple[str, str, str]], last_round: int, conn: Any
) -> None:
    from ws_client import StreamClient

    parsed = urllib.parse.urlsplit(url)
    stats = {
        "connected": 0,
        "connect_failures": 0,
        "dropped": 0,
        "orders": 0,
        "quotes": 0,
        "complete": 0,  # clients that have their order and the last round's quote
    }
    latencies: dict[str, list[float]] = {"orders": [], "quotes": []}
    stopping = asyncio.Event()
    gate = asyncio.Semaphore(CONNECTS_IN_FLIGHT)
    streams: list[StreamClient] = []
    loop = asyncio.get_running_loop()

    async def one(key: str, account_id: str, symbol: str) -> None:
        subscribed = loop.create_future()
        waiting_for = {"orders", "last quote"}

        def on_text(raw: bytes) -> None:
            received = time.time()
            message = json.loads(raw)
            channel = message.get("channel")
            if channel is None:
                if message.get("event") == "subscribed" and not subscribed.done():
                    subscribed.set_result(None)
                return
            kind = "orders" if channel.startswith("orders") else "quotes"
            sent = _sent_at(message)
            if sent is not None:
                latencies[kind].append((received - sent) * 1000)
            stats[kind] += 1
            last = kind == "orders" or message["data"].get("volume") == last_round
            if waiting_for and last:
                waiting_for.discard("orders" if kind == "orders" else "last quote")
                stats["complete"] += not waiting_for

        async with gate:
            try:
                _, stream = await loop.create_connection(
                    lambda: StreamClient(
                        host=parsed.netloc,
                        path=parsed.path,
                        headers={"Authorization": f"Token {key}"},
                        on_text=on_text,
                    ),
                    parsed.hostname,
                    parsed.port,
                )
                await asyncio.wait_for(stream.opened, 60)
                stream.send_text(
                    json.dumps(
                        {
                            "action": "subscribe",
                            "channels": [f"orders:{account_id}", f"quotes:{symbol}"],
                        }
                    )
                )
                await asyncio.wait_for(asyncio.shield(subscribed), 60)
            except (OSError, TimeoutError) as exc:
                stats["connect_failures"] += 1
                log(f"connect failed: {exc!r}")
                return
        stats["connected"] += 1
        streams.append(stream)
        await stream.closed
        if not stopping.is_set():
            stats["dropped"] += 1

    tasks = [asyncio.create_task(one(*entry)) for entry in plan]
    while True:
        conn.send(("progress", dict(stats)))
        if await loop.run_in_executor(None, conn.poll, 0.5):
            break  # "stop"
    conn.recv()
    stopping.set()
    held = sum(1 for stream in streams if not stream.closed.done())
    conn.send(("done", dict(stats, held=held), latencies))
    for stream in streams:
        stream.close()
    await asyncio.sleep(0.5)
    for task in tasks:
        task.cancel()


def client_process(url: str, plan: list[tuple[str, str, str]], last_round: int, conn: Any) -> None:
    import uvloop

    raise_fd_limit()
    uvloop.run(_client_main(url, plan, last_round, conn))


# ----------------------------------------------------------------------------- the server


def _server_env(database_url: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url)
    env.pop("OMS_CELERY_EAGER", None)
    env["PYTHONPATH"] = str(ROOT)
    return env


def _set_up_data(clients: int, symbols: int) -> list[tuple[str, str, str]]:
    """One user, account and API key per client; → [(key, account id, symbol)]."""
    from django.db import transaction

    from accounts.models import AccountMembership, TradingAccount, User
    from accounts.services import api_key_create

    plan = []
    with transaction.atomic():
        users = User.objects.bulk_create(
            [User(username=f"ws{n}", role="trader") for n in range(clients)]
        )
        accounts = TradingAccount.objects.bulk_create(
            [TradingAccount(name=f"ws{n}", broker="paper") for n in range(clients)]
        )
        AccountMembership.objects.bulk_create(
            [
                AccountMembership(user=user, account=account, role="owner")
                for user, account in zip(users, accounts, strict=True)
            ]
        )
        for n, (user, account) in enumerate(zip(users, accounts, strict=True)):
            key = api_key_create(user=user, name="ws bench").raw_key
            plan.append((key, str(account.pk), f"WS{n % symbols}"))
    return plan


def _warm_publishers() -> None:
    """Open the publishers' Redis connections (the push loop's and the quote publisher's), as
    a running stack has them, so the burst does not time their first connect."""
    from marketdata.push import quote_publisher
    from notifications.services import publish_now

    quote_publisher().publish("WARMUP", {"symbol": "WARMUP", "last": "1"})
    publish_now(channel="quotes:WARMUP", event="quote", data={"symbol": "WARMUP"})


def _publish_burst(plan: list[tuple[str, str, str]], symbols: int, rounds: int) -> float:
    """Publish the burst; → seconds the order pushes took to publish (numbering included)."""
    from django.db import transaction

    from marketdata.push import quote_publisher
    from notifications.services import publish_batch

    account_ids = [account_id for _, account_id, _ in plan]
    started = time.monotonic()
    for start in range(0, len(account_ids), ORDERS_PER_TRANSACTION):
        with transaction.atomic():
            batch = publish_batch()
            for account_id in account_ids[start : start + ORDERS_PER_TRANSACTION]:
                batch.add(
                    channel="orders",
                    event="order.updated",
                    data={
                        "id": account_id,
                        "account": account_id,
                        "status": "filled",
                        "updated_at": datetime.now(UTC).isoformat(),
                    },
                    account_id=account_id,
                )
    orders_secs = time.monotonic() - started
    publisher = quote_publisher()
    for n in range(rounds):
        for s in range(symbols):
            price = f"{100 + n}.{s:02d}"
            publisher.publish(
                f"WS{s}",
                {
                    "symbol": f"WS{s}",
                    "last": price,
                    "bid": price,
                    "ask": price,
                    "volume": n,
                    "ts": datetime.now(UTC).isoformat(),
                },
            )
        time.sleep(QUOTE_ROUND_GAP_SECS)
    return orders_secs


def _server_processes(proc: Any) -> list[Any]:
    """The server: one uvicorn process, or with --web-procs its worker processes too."""
    return [proc, *proc.children(recursive=True)]


def _server_cpu(proc: Any) -> float:
    return sum(p.cpu_times().user + p.cpu_times().system for p in _server_processes(proc))


def _server_system_cpu(proc: Any) -> float:
    """The kernel's share (socket writes): what no Python-side trimming can cut."""
    return sum(p.cpu_times().system for p in _server_processes(proc))


def _processes_cpu(processes: list[Any]) -> float:
    """CPU seconds of these processes (multiprocessing workers or pids), threads included."""
    import psutil

    total = 0.0
    for process in processes:
        times = psutil.Process(getattr(process, "pid", process)).cpu_times()
        total += times.user + times.system
    return total


def _server_rss(proc: Any) -> int:
    return sum(p.memory_info().rss for p in _server_processes(proc))


def _wait_http(port: int, timeout: float) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/accounts/login/")  # /healthz would be 503: no workers
            conn.getresponse().read()
            return
        time.sleep(0.2)
    raise SystemExit("the web server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds held idle")
    parser.add_argument("--quote-rounds", type=int, default=10)
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument(
        "--web-procs", type=int, default=1, help="uvicorn worker processes (WEB_CONCURRENCY)"
    )
    parser.add_argument("--port", type=int, default=8171)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument(
        "--ws-deflate",
        action="store_true",
        help="let the server negotiate permessage-deflate (off, as `make run` serves)",
    )
    args = parser.parse_args()

    import psutil
    import redis

    fd_soft, fd_hard = raise_fd_limit()
    workdir = Path(tempfile.mkdtemp(prefix="ws_fanout_"))
    database_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    redis.Redis.from_url(args.redis_url).flushdb()
    env = _server_env(database_url, args.redis_url)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "PYTHONPATH")})
    sys.path.insert(0, str(ROOT))
    log(f"migrating {database_url}")
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms_site.settings")
    import django

    django.setup()
    log(f"creating {args.clients} users, accounts and API keys")
    plan = _set_up_data(args.clients, args.symbols)

    server = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "uvicorn",
            "oms_site.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(args.port),
            "--lifespan",
            "off",
            *(["--workers", str(args.web_procs)] if args.web_procs > 1 else []),
            "--log-level",
            "warning",
            *([] if args.ws_deflate else ["--ws-per-message-deflate", "false"]),
        ],
        cwd=ROOT,
        env=env,
        preexec_fn=raise_fd_limit,
    )
    result: dict[str, Any] = {
        "bench": "ws_fanout",
        "clients": args.clients,
        "web_procs": args.web_procs,
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }
    try:
        _wait_http(args.port, 60)
        proc = psutil.Process(server.pid)
        if args.web_procs > 1:  # the workers are up when each answers; give them a moment
            time.sleep(3)
        rss_base = _server_rss(proc)
        url = f"ws://127.0.0.1:{args.port}/ws/stream/"
        ctx = multiprocessing.get_context("spawn")
        pipes, workers = [], []
        for n in range(args.client_procs):
            parent, child = ctx.Pipe()
            worker = ctx.Process(
                target=client_process,
                args=(url, plan[n :: args.client_procs], args.quote_rounds - 1, child),
            )
            worker.start()
            pipes.append(parent)
            workers.append(worker)
        progress = [dict(connected=0, connect_failures=0) for _ in pipes]

        def poll_progress() -> None:
            for n, pipe in enumerate(pipes):
                while pipe.poll():
                    _kind, stats, *_ = pipe.recv()
                    progress[n] = stats

        started = time.monotonic()
        while True:
            poll_progress()
            settled = sum(p["connected"] + p["connect_failures"] for p in progress)
            if settled >= args.clients or time.monotonic() - started > 300:
                break
            time.sleep(0.2)
        connect_secs = time.monotonic() - started
        rss_connected = _server_rss(proc)
        log(f"{settled} settled in {connect_secs:.1f}s; idle {args.idle:.0f}s")
        _warm_publishers()
        cpu_before = _server_cpu(proc)
        time.sleep(args.idle)
        cpu_after = _server_cpu(proc)
        poll_progress()
        log("burst")
        burst_started = time.monotonic()
        cpu_burst_before = _server_cpu(proc)
        system_burst_before = _server_system_cpu(proc)
        clients_cpu_before = _processes_cpu(workers)
        publisher_cpu_before = _processes_cpu([os.getpid()])
        publish_orders_secs = _publish_burst(plan, args.symbols, args.quote_rounds)
        connected = sum(p["connected"] for p in progress)
        expected = (1 + args.quote_rounds) * connected
        # Done when every client has its order and the last round's quote: quotes a client
        # was behind on are coalesced (latest wins), so fewer than `expected` may arrive.
        while time.monotonic() - burst_started < DRAIN_TIMEOUT_SECS:
            poll_progress()
            if sum(p.get("complete", 0) for p in progress) >= connected:
                break
            time.sleep(0.05)
        drain_secs = time.monotonic() - burst_started
        cpu_burst_after = _server_cpu(proc)
        system_burst = _server_system_cpu(proc) - system_burst_before
        clients_burst_cpu = _processes_cpu(workers) - clients_cpu_before
        publisher_burst_cpu = _processes_cpu([os.getpid()]) - publisher_cpu_before
        for pipe in pipes:
            pipe.send("stop")
        finals: list[dict[str, int]] = []
        latencies: dict[str, list[float]] = {"orders": [], "quotes": []}
        for pipe in pipes:
            while True:
                kind, stats, *rest = pipe.recv()
                if kind == "done":
                    finals.append(stats)
                    for kind, values in rest[0].items():
                        latencies[kind].extend(values)
                    break
        for worker in workers:
            worker.join(timeout=30)
        total = {key: sum(f[key] for f in finals) for key in finals[0]}
        everything = latencies["orders"] + latencies["quotes"]
        idle_cpu = cpu_after - cpu_before
        burst_cpu = cpu_burst_after - cpu_burst_before
        delivered = total["orders"] + total["quotes"]
        result.update(
            connections_held=total["held"],
            dropped=total["dropped"],
            connect_failures=total["connect_failures"],
            connect_seconds=round(connect_secs, 1),
            idle_seconds=args.idle,
            messages_expected=expected,
            messages_delivered=delivered,
            clients_complete=total["complete"],
            orders_delivered=total["orders"],
            quotes_delivered=total["quotes"],
            quotes_coalesced=args.quote_rounds * connected - total["quotes"],
            burst_drain_seconds=round(drain_secs, 2),
            publish_orders_seconds=round(publish_orders_secs, 3),
            delivery_p50_ms=percentile(everything, 50),
            delivery_p99_ms=percentile(everything, 99),
            delivery_max_ms=percentile(everything, 100),
            order_delivery_p50_ms=percentile(latencies["orders"], 50),
            order_delivery_p99_ms=percentile(latencies["orders"], 99),
            quote_delivery_p50_ms=percentile(latencies["quotes"], 50),
            quote_delivery_p99_ms=percentile(latencies["quotes"], 99),
            server_rss_mb_before=round(rss_base / 2**20, 1),
            server_rss_mb_connected=round(rss_connected / 2**20, 1),
            server_kib_per_connection=round(
                (rss_connected - rss_base) / 1024 / max(1, total["held"]), 1
            ),
            server_idle_cpu_seconds=round(idle_cpu, 2),
            server_burst_cpu_seconds=round(burst_cpu, 2),
            server_burst_system_cpu_seconds=round(system_burst, 2),
            server_cpu_us_per_message=round(burst_cpu * 1e6 / max(1, delivered), 1),
            # the same without what the idle streams cost meanwhile (heartbeats, pings)
            server_cpu_us_per_message_net=round(
                max(0.0, burst_cpu - idle_cpu / args.idle * drain_secs) * 1e6 / max(1, delivered),
                1,
            )
            if args.idle
            else None,
            # where else the burst's CPU went, on the same cores
            clients_burst_cpu_seconds=round(clients_burst_cpu, 2),
            publisher_burst_cpu_seconds=round(publisher_burst_cpu, 2),
            server_idle_cpu_pct=round(100 * idle_cpu / args.idle, 1) if args.idle else None,
            load_average_1m_at_end=round(os.getloadavg()[0], 2),
            fd_limit_soft=fd_soft,
            fd_limit_hard=fd_hard,
            command=" ".join([Path(PYTHON).name, *sys.argv]),
        )
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=15)
        if server.poll() is None:
            server.kill()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
