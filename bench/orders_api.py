"""Benchmark placing orders through the HTTP API of the running stack (MariaDB + Redis).

    python bench/orders_api.py [--clients 16] [--duration 20] [--max-orders 20000]
                               [--port 8169] [--web-workers CPUS] [--worker-concurrency 2xCPUS]
    python bench/orders_api.py --expect-running --base-url http://127.0.0.1:8000 \
                               --api-key KEY --account ID[,ID...] --symbol ACME
    python bench/orders_api.py --accounts 16   # spread the clients over 16 paper accounts
    python bench/orders_api.py --rate 30       # open loop: 30 orders/s on a fixed schedule
    python bench/orders_api.py --batch 20      # POST /api/v1/orders/batch, 20 orders each

By default it starts its own stack (`python -m oms_site.run`) on
`DATABASE_URL=mysql://root@127.0.0.1:3306/oms_bench` and its own Redis db (BENCH_REDIS_URL,
default redis://127.0.0.1:6379/6), with no market feed; migrates and seeds it; creates a bench
user with an API key, a paper account with ample cash and a quote for the symbol; then N
concurrent clients (threads, keep-alive HTTP, localhost only) POST market buy orders for a
bounded time / count while one WebSocket (`/ws/stream/?token=...`, channel `orders`) records
when each order's fill arrives. It stops its stack at the end (also on errors / Ctrl-C).

Prints ONE JSON object: accepted orders/s, p50/p95/p99 latency of POST /api/v1/orders (ms),
p50/p95 time from the POST to the `order.updated` push with status `filled` (ms), counts.
`cpu_ms_per_order` splits the CPU the load (and its fills) cost by process role (web,
worker, exchange_shard, beat, database, redis, bench_client, ...), from the processes' CPU
counters read before and after: unlike the rates, it does not depend on what else the
machine is doing. `cpu_ms_per_order_total` sums the system's processes (not the bench's own
client). `submit_bursts`: how the orders were grouped into submission bursts (from their
`submitted` audit events). `machine`: CPU, memory and load averages at the end.
Not a test: nothing is asserted; the numbers are for reading. Targets (issue 18): open loop
100 orders/s for 60 s with POST p95 < 100 ms, POST -> fill push p95 < 250 ms and no fill
missing; cpu_ms_per_order_total <= 15; saturated single POSTs >= 150 orders/s; batches of
20 >= 300 orders/s, accepted and filled.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import (  # the sibling module the stack benchmarks share
    DEFAULT_DB,
    DEFAULT_REDIS,
    Api,
    Stack,
    burst_sizes,
    cpu_seconds_by_role,
    log,
    machine,
    percentile,
    setup_trading,
)

# ----------------------------------------------------------------------------- WebSocket


@dataclass
class FillWatcher:
    """Records when each order's `filled` update arrives on the live stream."""

    ws_url: str
    filled_at: dict[str, float] = field(default_factory=dict)
    ready: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # noqa: BLE001 - reported in the JSON output
            self.error = repr(exc)
            self.ready.set()

    async def _main(self) -> None:
        import websockets

        # The stream checks Origin against ALLOWED_HOSTS (AllowedHostsOriginValidator).
        origin = self.ws_url.replace("ws://", "http://", 1).split("/ws/", 1)[0]
        async with websockets.connect(
            self.ws_url, max_size=2**22, open_timeout=15, origin=origin
        ) as ws:
            await ws.send(json.dumps({"action": "subscribe", "channels": ["orders"]}))
            while not self.stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                now = time.perf_counter()
                message = json.loads(raw)
                if message.get("event") == "subscribed":
                    self.ready.set()
                    continue
                data = message.get("data") or {}
                if message.get("event") == "order.updated" and data.get("status") == "filled":
                    with self.lock:
                        self.filled_at.setdefault(data.get("id"), now)


# ----------------------------------------------------------------------------- load


@dataclass
class Sample:
    started: float
    latency_ms: float
    status: int
    order_id: str | None


def client_loop(
    base_url: str,
    key: str,
    body: dict,
    deadline: float,
    budget: list[int],
    lock: threading.Lock,
    out: list[Sample],
    pace: tuple[float, float, list[int]] | None = None,
    batch: int = 1,
) -> None:
    """POST orders back to back, or — with `pace` = (start, rate, [next slot]) — each at its
    slot of an open-loop schedule of `rate` orders/s shared by all clients. batch > 1:
    POST /api/v1/orders/batch with that many orders at a time (a sample per order)."""
    api = Api(base_url, key)
    try:
        while time.perf_counter() < deadline:
            with lock:
                if budget[0] <= 0:
                    return
                budget[0] -= batch
                if pace is not None:
                    slot = pace[2][0]
                    pace[2][0] += batch
            if pace is not None:
                delay = pace[0] + slot / pace[1] - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            started = time.perf_counter()
            if batch > 1:
                status, data = api.call("POST", "/api/v1/orders/batch", {"orders": [body] * batch})
                latency = (time.perf_counter() - started) * 1000
                items = data.get("results", []) if isinstance(data, dict) else []
                for item in items or [{"status": status}]:
                    order_id = (item.get("order") or {}).get("id")
                    out.append(Sample(started, latency, item.get("status", status), order_id))
                continue
            status, data = api.call("POST", "/api/v1/orders", body)
            latency = (time.perf_counter() - started) * 1000
            order_id = data.get("id") if isinstance(data, dict) else None
            out.append(Sample(started, latency, status, order_id))
    finally:
        api.close()


def run_load(
    *,
    base_url: str,
    key: str,
    accounts: list[str],
    symbol: str,
    clients: int,
    duration: float,
    max_orders: int,
    rate: float | None = None,
    batch: int = 1,
) -> tuple[list[Sample], float]:
    def body(index: int) -> dict:
        # Client i trades account i mod len(accounts): one account = one serialised row lock.
        return {
            "account": accounts[index % len(accounts)],
            "symbol": symbol,
            "side": "buy",
            "type": "market",
            "qty": "1",
            "time_in_force": "day",
        }

    samples: list[Sample] = []
    budget, lock = [max_orders], threading.Lock()
    started = time.perf_counter()
    deadline = started + duration
    pace = (started, rate, [0]) if rate else None
    threads = [
        threading.Thread(
            target=client_loop,
            args=(base_url, key, body(index), deadline, budget, lock, samples, pace, batch),
            daemon=True,
        )
        for index in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load (bounded)")
    parser.add_argument("--max-orders", type=int, default=20000)
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="open loop: send this many orders/s in total on a fixed schedule (default: "
        "each client sends its next order as soon as the last is answered)",
    )
    parser.add_argument(
        "--warmup", type=int, default=100, help="orders sent (and not counted) first"
    )
    parser.add_argument("--symbol", default="ACME")
    parser.add_argument("--port", type=int, default=8169)
    # One web process and one Celery process per core: with 4 + 4 on 2 cores the workers
    # spent ~60% more CPU per order (measured: 32.6 vs 20.3 ms) for the same throughput.
    parser.add_argument("--web-workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--worker-concurrency", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument(
        "--fill-grace", type=float, default=10.0, help="seconds to wait for late fills"
    )
    parser.add_argument(
        "--expect-running", action="store_true", help="use a stack that is already up"
    )
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--account", default=None, help="with --expect-running: comma-separated")
    parser.add_argument(
        "--accounts", type=int, default=1, help="paper accounts the clients spread over"
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=1,
        help="orders per request: > 1 posts them to /api/v1/orders/batch (latency is then "
        "per request, each order sampled)",
    )
    args = parser.parse_args()
    args.clients = max(1, min(args.clients, 256))
    args.duration = max(1.0, min(args.duration, 300.0))

    stack: Stack | None = None
    if args.expect_running:
        if not (args.base_url and args.api_key and args.account):
            raise SystemExit("--expect-running needs --base-url, --api-key and --account")
        base_url, key = args.base_url, args.api_key
        accounts = [a.strip() for a in args.account.split(",") if a.strip()]
    else:
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB),
                "REDIS_URL": os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS),
                "HOST": "127.0.0.1",
                "PORT": str(args.port),
                "WEB_CONCURRENCY": str(args.web_workers),
                "OMS_WORKER_CONCURRENCY": str(args.worker_concurrency),
                "OMS_FEED": "none",
                "OMS_API_USER_RATE": "10000000/min",  # measure the system, not the API throttle
                # Django under ASGI leaks persistent DB connections (one per request context)
                # until MariaDB refuses new ones ("Too many connections"): no persistence.
                "DB_CONN_MAX_AGE": os.environ.get("BENCH_DB_CONN_MAX_AGE", "0"),
                "CELERY_LOG_LEVEL": "WARNING",
                "LOG_LEVEL": "WARNING",
                "DJANGO_SETTINGS_MODULE": "oms_site.settings",
            }
        )
        base_url = f"http://127.0.0.1:{args.port}"
        stack = Stack(base_url=base_url, env=env)
    watcher_thread = None
    watcher: FillWatcher | None = None
    try:
        if stack is not None:
            stack.prepare()
            stack.start()
            key, accounts = setup_trading(stack, args.symbol, args.accounts)
        ws_base = base_url.replace("http://", "ws://", 1)
        watcher = FillWatcher(ws_url=f"{ws_base}/ws/stream/?token={urllib.parse.quote(key)}")
        watcher_thread = threading.Thread(target=watcher.run, daemon=True)
        watcher_thread.start()
        if not watcher.ready.wait(15) or watcher.error:
            raise SystemExit(f"the WebSocket did not subscribe: {watcher.error}")
        log(f"warm-up: {args.warmup} orders")
        run_load(
            base_url=base_url,
            key=key,
            accounts=accounts,
            symbol=args.symbol,
            clients=min(args.clients, 4),
            duration=30,
            max_orders=args.warmup,
        )
        log(f"load: {args.clients} clients for up to {args.duration:g}s / {args.max_orders} orders")
        stack_pid = None if stack is None or stack.process is None else stack.process.pid
        cpu_before = cpu_seconds_by_role(stack_pid)
        load_started = time.time()
        samples, elapsed = run_load(
            base_url=base_url,
            key=key,
            accounts=accounts,
            symbol=args.symbol,
            clients=args.clients,
            duration=args.duration,
            max_orders=args.max_orders,
            rate=args.rate,
            batch=max(1, min(args.batch, 100)),
        )
        accepted = [s for s in samples if s.status == 201 and s.order_id]
        grace_end = time.perf_counter() + args.fill_grace
        wanted = {s.order_id for s in accepted}
        while time.perf_counter() < grace_end:
            with watcher.lock:
                if wanted <= watcher.filled_at.keys():
                    break
            time.sleep(0.2)
        with watcher.lock:
            filled_at = dict(watcher.filled_at)
        cpu_after = cpu_seconds_by_role(stack_pid)
        cpu_ms_per_order = {
            role: round((cpu_after[role] - cpu_before.get(role, 0.0)) * 1000 / len(accepted), 2)
            for role in sorted(cpu_after)
            if accepted
        }
        push_ms = [
            (filled_at[s.order_id] - s.started) * 1000 for s in accepted if s.order_id in filled_at
        ]
        latencies = [s.latency_ms for s in accepted]
        statuses: dict[str, int] = {}
        for sample in samples:
            statuses[str(sample.status)] = statuses.get(str(sample.status), 0) + 1
        result = {
            "orders_per_s": round(len(accepted) / elapsed, 1) if elapsed else 0.0,
            "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95),
            "p99_ms": percentile(latencies, 99),
            "fill_push_p50_ms": percentile(push_ms, 50),
            "fill_push_p95_ms": percentile(push_ms, 95),
            "accepted": len(accepted),
            "sent": len(samples),
            "statuses": statuses,
            "fills_pushed": len(push_ms),
            "fills_missing": len(accepted) - len(push_ms),
            "clients": args.clients,
            "rate": args.rate,
            "batch": args.batch,
            "accounts": len(accounts),
            "elapsed_s": round(elapsed, 2),
            "web_workers": None if stack is None else args.web_workers,
            "worker_concurrency": None if stack is None else args.worker_concurrency,
            "cpus": os.cpu_count(),
            "cpu_ms_per_order": cpu_ms_per_order,
            # The system's processes; the bench's own client (the load) is not counted.
            "cpu_ms_per_order_total": round(
                sum(ms for role, ms in cpu_ms_per_order.items() if role != "bench_client"), 2
            ),
            "submit_bursts": None
            if stack is None
            else burst_sizes(env["DATABASE_URL"], load_started),
            "machine": machine(),
            "targets": {
                "open_loop_100_per_s": {"p95_ms": 100, "fill_push_p95_ms": 250},
                "cpu_ms_per_order_total": 15,
                "saturated_orders_per_s": 150,
                "batch_of_20_orders_per_s": 300,
            },
        }
        print(json.dumps(result))
        return 0
    finally:
        if watcher is not None:
            watcher.stop.set()
        if watcher_thread is not None:
            watcher_thread.join(timeout=5)
        if stack is not None:
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
