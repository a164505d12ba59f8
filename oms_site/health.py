"""`/healthz`: database, Redis and Celery workers, as JSON; 503 when one is down."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from oms_site.celery import app as celery_app


def _check_database() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure here means "down"; it is reported
        return {"status": "down", "error": str(exc)[:200]}
    return {
        "status": "ok",
        "vendor": connection.vendor,
        "ms": round((time.perf_counter() - started) * 1000, 2),
    }


def _check_redis() -> dict[str, Any]:
    if not settings.REDIS_URL:
        return {"status": "not_configured"}
    import redis

    started = time.perf_counter()
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1
        )
        client.ping()
    except redis.RedisError as exc:
        return {"status": "down", "error": str(exc)[:200]}
    return {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 2)}


def _check_celery() -> dict[str, Any]:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"status": "eager"}
    try:
        replies = celery_app.control.ping(timeout=1.0)
    except Exception as exc:  # noqa: BLE001 - broker errors vary by transport; reported as down
        return {"status": "down", "error": str(exc)[:200]}
    workers = sorted(name for reply in replies for name in reply)
    if not workers:
        return {"status": "down", "error": "no worker answered", "workers": []}
    return {"status": "ok", "workers": workers}


@never_cache
def healthz(request):
    checks = {
        "database": _check_database(),
        "redis": _check_redis(),
        "celery": _check_celery(),
    }
    healthy = all(check["status"] != "down" for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "down", "checks": checks}, status=200 if healthy else 503
    )
