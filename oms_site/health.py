"""`/healthz`: database, Redis and Celery workers, as JSON; HTTP 503 when one is down.

Body: {"status": "ok"|"degraded"|"down", "failing": [names of the checks that are down],
       "checks": {"database": {...}, "redis": {...}, "celery": {...}, "processes"?: {...}}}
"processes" is there under the run command's supervisor (OMS_SUPERVISOR_STATUS_FILE): while
a crashed child waits for its restart it is "degraded" — the status says "degraded" and the
answer stays 200, since this web process serves; it names the child in "restarting".
A check's status is "ok", "down", or one that is not a failure in this mode:
"not_configured" (no REDIS_URL: in-process channel layer and cache) and "eager"
(tasks run inline, so there is no worker to ask).

It is polled by load balancers and by the run command, so it stays cheap: every check has
a one-second budget, and a Celery worker's answer is remembered for a few seconds (a ping
broadcast always waits its whole timeout for late repliers).
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from oms_site.celery import app as celery_app

CHECK_TIMEOUT = 1.0  # seconds: per service
CELERY_OK_TTL = 5.0  # seconds: how long a good worker answer is reused

_celery_lock = threading.Lock()
_celery_last_ok: tuple[float, dict[str, Any]] | None = None


def reset_celery_cache() -> None:
    """Forget the remembered worker answer (tests; or after reconfiguring the broker)."""
    global _celery_last_ok
    with _celery_lock:
        _celery_last_ok = None


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _check_database() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure here means "down"; it is reported
        return {"status": "down", "error": str(exc)[:200]}
    return {"status": "ok", "vendor": connection.vendor, "ms": _elapsed_ms(started)}


def _ping_redis(url: str) -> dict[str, Any]:
    started = time.perf_counter()
    client = redis.Redis.from_url(
        url, socket_timeout=CHECK_TIMEOUT, socket_connect_timeout=CHECK_TIMEOUT
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        return {"status": "down", "error": str(exc)[:200]}
    finally:
        client.close()
    return {"status": "ok", "ms": _elapsed_ms(started)}


def _check_redis() -> dict[str, Any]:
    if not settings.REDIS_URL:
        return {"status": "not_configured"}
    return _ping_redis(settings.REDIS_URL)


def ping_workers(timeout: float) -> list[str]:
    """Names of the Celery workers that answer a ping within `timeout` seconds."""
    replies = celery_app.control.ping(timeout=timeout) or []
    return sorted(name for reply in replies for name in reply)


def _check_celery(redis_check: dict[str, Any]) -> dict[str, Any]:
    global _celery_last_ok
    if celery_app.conf.task_always_eager:  # this process runs tasks inline: no worker to ask
        return {"status": "eager"}
    broker_url = str(celery_app.conf.broker_url or "")
    if broker_url.startswith(("redis://", "rediss://")):
        # An unreachable broker makes a ping retry its connection for a long time: ask
        # Redis first, with the same one-second budget.
        broker = redis_check if broker_url == settings.REDIS_URL else _ping_redis(broker_url)
        if broker["status"] != "ok":
            return {"status": "down", "error": "broker unreachable", "workers": []}
    with _celery_lock:
        if _celery_last_ok and time.monotonic() - _celery_last_ok[0] < CELERY_OK_TTL:
            return _celery_last_ok[1]
    started = time.perf_counter()
    try:
        workers = ping_workers(CHECK_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - broker errors vary by transport; reported as down
        return {"status": "down", "error": str(exc)[:200], "workers": []}
    if not workers:
        return {"status": "down", "error": "no worker answered", "workers": []}
    result = {"status": "ok", "workers": workers, "ms": _elapsed_ms(started)}
    with _celery_lock:
        _celery_last_ok = (time.monotonic(), result)
    return result


def _check_processes() -> dict[str, Any] | None:
    """The supervisor's view of the stack's processes, when running under it."""
    path = os.environ.get("OMS_SUPERVISOR_STATUS_FILE")
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            processes = json.load(handle)["processes"]
    except (OSError, ValueError, KeyError) as exc:
        return {"status": "unknown", "error": str(exc)[:200]}
    restarting = sorted(name for name, p in processes.items() if p["state"] == "restarting")
    return {
        "status": "degraded" if restarting else "ok",
        "restarting": restarting,
        "restarts": {name: p["restarts"] for name, p in processes.items() if p["restarts"]},
    }


def health_report() -> tuple[bool, dict[str, Any]]:
    """(healthy, body) of every check; healthy when none is "down" (degraded is healthy)."""
    redis_check = _check_redis()
    checks = {
        "database": _check_database(),
        "redis": redis_check,
        "celery": _check_celery(redis_check),
    }
    processes = _check_processes()
    if processes is not None:
        checks["processes"] = processes
    failing = [name for name, check in checks.items() if check["status"] == "down"]
    degraded = any(check["status"] == "degraded" for check in checks.values())
    status = "down" if failing else "degraded" if degraded else "ok"
    body = {"status": status, "failing": failing, "checks": checks}
    return not failing, body


@never_cache
def healthz(request):
    healthy, body = health_report()
    return JsonResponse(body, status=200 if healthy else 503)
