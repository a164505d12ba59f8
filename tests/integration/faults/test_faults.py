"""The fault probe of issue 14 as a suite: the real stack (MariaDB + a private Redis) under
order load on paper and internal-exchange accounts; each fault is injected while clients
keep posting (every POST retried with its Idempotency-Key, half also with a
client_order_id); then the checker, and a table: fault, orders sent/accepted/lost/doubled,
fills doubled, positions == rebuild, recovery time.

MariaDB is shared with others, so "the database down" is a TCP proxy between the stack and
MariaDB dropping every connection and refusing new ones; Redis is the suite's own
redis-server, stopped and started again empty.

Recovery time: from the fault until every order accepted in that phase is filled and
/healthz is "ok" again. "API gap": the longest time without a 2xx answer to any client.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from tests.integration.faults.harness import (
    BASE_DIR,
    DatabaseProxy,
    Load,
    PrivateRedis,
    Stack,
    open_orders,
    prepare_database,
    stack_database_url,
    stack_db,
    unique_phase,
)

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not (DATABASE_URL.startswith("mysql") and REDIS_URL),
        reason="the fault suite needs the real services: DATABASE_URL=mysql://… and REDIS_URL "
        "set (CI's second pass); it starts its own stack, database and redis-server",
    ),
]

LOAD_BEFORE_S = 3.0
LOAD_AFTER_S = 7.0
RECOVERY_TIMEOUT_S = 150.0


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("faults")
    redis = PrivateRedis(workdir)
    redis.start()
    database_url = stack_database_url(DATABASE_URL)
    proxy = DatabaseProxy(database_url)
    try:
        setup = prepare_database(database_url, redis.url)
        # The stack reaches MariaDB through the proxy, the checker directly.
        stack = Stack(proxy.url_for(database_url), redis.url, workdir / "stack.log")
        try:
            stack.wait_ok()
            yield {"stack": stack, "redis": redis, "proxy": proxy, "db": database_url, **setup}
        finally:
            stack.stop()
    finally:
        proxy.close()
        redis.stop()


def _kill(proc: psutil.Process) -> None:
    proc.send_signal(signal.SIGKILL)


def kill_worker(probe: dict) -> None:
    _kill(probe["stack"].child("celery", "-n worker@"))


def kill_worker_pool_process(probe: dict) -> None:
    pool = probe["stack"].child("celery", "-n worker@").children()
    _kill(pool[0])


def kill_shard(probe: dict) -> None:
    _kill(probe["stack"].child("celery", "exchange.shard.0"))


def restart_redis(probe: dict) -> None:
    redis: PrivateRedis = probe["redis"]
    redis.stop()
    time.sleep(OUTAGE_S)
    redis.start()


def database_outage(probe: dict) -> None:
    proxy: DatabaseProxy = probe["proxy"]
    proxy.down()
    time.sleep(OUTAGE_S)
    proxy.restore()


def kill_drainer_mid_burst(probe: dict) -> None:
    result = stack_db(probe["db"], probe["redis"].url, "kill_drainer_mid_burst")
    probe.setdefault("injected", []).append(result)


def deliver_bursts_twice(probe: dict) -> None:
    stack_db(probe["db"], probe["redis"].url, "drain_twice")


OUTAGE_S = 5.0
FAULTS: list[tuple[str, Callable[[dict], None]]] = [
    ("worker pool process killed", kill_worker_pool_process),
    ("worker killed mid-burst", kill_drainer_mid_burst),
    ("burst delivered twice", deliver_bursts_twice),
    ("worker killed whole", kill_worker),
    ("exchange shard killed", kill_shard),
    ("redis down 5 s, restarted empty", restart_redis),
    ("database unreachable 5 s", database_outage),
]


def _longest_gap(times: list[float], start: float, end: float) -> float:
    points = sorted([start, *(t for t in times if start <= t <= end), end])
    return max(b - a for a, b in itertools.pairwise(points))


def _run_phase(probe: dict, name: str, inject) -> dict:
    stack, redis = probe["stack"], probe["redis"]
    prefix = unique_phase(name.split()[0])
    load = Load(
        stack_url=stack.url,
        key=probe["key"],
        accounts=probe["accounts"],
        symbol=probe["symbol"],
        phase=prefix,
    )
    load.start()
    time.sleep(LOAD_BEFORE_S)
    fault_at = time.monotonic()
    inject(probe)
    time.sleep(LOAD_AFTER_S)
    load.stop()
    gap = _longest_gap(load.ok_times, fault_at, fault_at + LOAD_AFTER_S)
    recovered_at = None
    deadline = time.monotonic() + RECOVERY_TIMEOUT_S
    while time.monotonic() < deadline:
        status, body = stack.health()
        if status == 200 and body.get("status") == "ok" and open_orders(probe["db"], prefix) == 0:
            recovered_at = time.monotonic()
            break
        time.sleep(0.5)
    found = stack_db(probe["db"], redis.url, "check", f"{prefix}-")
    accepted = {order.tag for order in load.orders if order.accepted}
    return {
        "fault": name,
        "sent": len({order.tag for order in load.orders}),
        "accepted": len(accepted),
        "lost": len([tag for tag in accepted if found["per_tag"].get(tag, 0) == 0]),
        "doubled": len([tag for tag, n in found["per_tag"].items() if n > 1]),
        "fills_doubled": len(found["reports_applied_twice"]) + len(found["overfilled"]),
        "rebuild_ok": found["rebuild_clean"],
        "recovery_s": None if recovered_at is None else round(recovered_at - fault_at, 1),
        "api_gap_s": round(gap, 1),
        "non_json": sum(order.non_json_errors for order in load.orders),
        "found": found,
    }


def _table(rows: list[dict]) -> str:
    header = (
        f"{'fault':34} {'sent':>5} {'accepted':>8} {'lost':>5} {'doubled':>7} "
        f"{'fills doubled':>13} {'positions == rebuild':>20} {'recovery s':>10} "
        f"{'API gap s':>9} {'non-JSON':>8}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        recovery = "-" if row["recovery_s"] is None else f"{row['recovery_s']:.1f}"
        lines.append(
            f"{row['fault']:34} {row['sent']:>5} {row['accepted']:>8} {row['lost']:>5} "
            f"{row['doubled']:>7} {row['fills_doubled']:>13} "
            f"{'yes' if row['rebuild_ok'] else 'NO':>20} {recovery:>10} "
            f"{row['api_gap_s']:>9.1f} {row['non_json']:>8}"
        )
    return "\n".join(lines)


def test_every_fault_is_survived_without_a_lost_or_doubled_order(probe, capsys):
    rows = []
    for name, inject in FAULTS:
        rows.append(_run_phase(probe, name, inject))
        probe["stack"].wait_ok(timeout=RECOVERY_TIMEOUT_S)
    table = _table(rows)
    results = BASE_DIR / "var" / "test-results"  # kept next to make test's reports
    results.mkdir(parents=True, exist_ok=True)
    (results / "fault-table.txt").write_text(table + "\n")
    Path(probe["stack"].log_path).with_name("fault-table.txt").write_text(table)
    with capsys.disabled():
        print(f"\n{table}\n")
    stack = probe["stack"]
    assert stack.process.poll() is None, stack.log[-5000:]
    for row in rows:
        found = row["found"]
        context = (row["fault"], {k: v for k, v in found.items() if k != "per_tag"})
        assert row["accepted"] == row["sent"], context
        assert (row["lost"], row["doubled"], row["fills_doubled"]) == (0, 0, 0), context
        assert found["open"] == [] and found["wrong_filled_qty"] == [], context
        assert found["venue_fills_not_booked"] == found["booked_fills_not_at_venue"] == []
        assert found["cash_mismatch"] == [], context
        assert row["rebuild_ok"], context
        assert row["recovery_s"] is not None, context
        assert row["non_json"] == 0, context
