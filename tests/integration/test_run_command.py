"""`python -m oms_site.run` for real: embedded Redis, web, worker, beat, and everything
registered; green /healthz; a clean stop on SIGTERM; a crashed child restarted while the web
keeps answering."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from oms_site.embedded_redis import free_tcp_port
from oms_site.run import fetch_health
from tests.integration.stack_env import real_stack_env

pytestmark = pytest.mark.integration

BASE_DIR = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


# Services mode (REDIS_URL given, as in CI's second pass): the stack uses that Redis;
# otherwise it starts its embedded one.
OUTSIDE_REDIS_URL = os.environ.get("REDIS_URL", "")


def _stack_env(tmp_dir: Path, database_url: str) -> dict[str, str]:
    return real_stack_env(
        {
            "DATABASE_URL": database_url,
            "OMS_REDIS_DIR": str(tmp_dir / "redis"),
            "HOST": "127.0.0.1",
            "OMS_WORKER_CONCURRENCY": "1",
            "OMS_FEED": "none",  # no demo instruments in this database: nothing to simulate
            "OMS_STOP_TIMEOUT": "10",
        }
    )


@pytest.fixture(scope="module")
def migrated_database(tmp_path_factory) -> tuple[Path, str]:
    tmp_dir = tmp_path_factory.mktemp("run-stack")
    database_url = f"sqlite:///{tmp_dir / 'oms.sqlite3'}"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=BASE_DIR,
        env=_stack_env(tmp_dir, database_url),
        check=True,
        capture_output=True,
        timeout=120,
    )
    return tmp_dir, database_url


class RunningStack:
    def __init__(self, tmp_dir: Path, database_url: str) -> None:
        self.port = free_tcp_port()
        self.log_path = tmp_dir / f"run-{self.port}.log"
        env = _stack_env(tmp_dir, database_url)
        env["PORT"] = str(self.port)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "oms_site.run"],
                cwd=BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.health_url = f"http://127.0.0.1:{self.port}/healthz"

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_green(self) -> dict:
        deadline = time.monotonic() + START_TIMEOUT
        body: dict = {}
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the stack exited with {self.process.returncode}:\n{self.log}")
            status, body = fetch_health(self.health_url, timeout=3)
            # Green, and the supervisor has seen every worker it started answer (its banner).
            # /healthz reuses a good worker list for a few seconds: wait for the shared worker.
            workers = body.get("checks", {}).get("celery", {}).get("workers", [])
            ready = any(name.startswith("worker@") for name in workers)
            if status == 200 and "OMS is running at" in self.log and ready:
                return body
            time.sleep(0.5)
        pytest.fail(f"/healthz not green in {START_TIMEOUT}s: {body}\n{self.log}")

    def tree(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def wait_exit(self) -> int:
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the stack did not stop in {STOP_TIMEOUT}s:\n{self.log}")

    def kill_everything(self, snapshot: list[psutil.Process]) -> None:
        for proc in [*snapshot, psutil.Process(self.process.pid)]:
            if _alive(proc):
                proc.kill()
        self.process.wait(timeout=10)


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _survivors(procs: list[psutil.Process], timeout: float = 5.0) -> list[str]:
    deadline = time.monotonic() + timeout
    alive = [p for p in procs if _alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if _alive(p)]
    return [f"{p.pid} {' '.join(p.cmdline()[:6])}" for p in alive if _alive(p)]


def _named(procs: list[psutil.Process], *words: str) -> list[psutil.Process]:
    found = []
    for proc in procs:
        try:
            cmdline = " ".join(proc.cmdline())
        except psutil.Error:
            continue
        if all(word in cmdline for word in words):
            found.append(proc)
    return found


@pytest.fixture
def start_stack(migrated_database):
    stacks: list[tuple[RunningStack, list[psutil.Process]]] = []

    def _start() -> RunningStack:
        stack = RunningStack(*migrated_database)
        stacks.append((stack, []))
        return stack

    yield _start
    for stack, _ in stacks:  # whatever happened, leave no process behind
        if stack.process.poll() is None:
            snapshot = stack.tree()
            stack.kill_everything(snapshot)


def test_the_stack_comes_up_green_and_stops_cleanly_on_sigterm(start_stack):
    # Given the stack started on a fresh SQLite database (and the embedded Redis, unless
    # REDIS_URL names one)
    stack = start_stack()
    # When /healthz answers 200
    body = stack.wait_green()
    # Then the database, the embedded Redis and a live worker are all reported ok
    assert body["checks"]["database"] == {**body["checks"]["database"], "status": "ok"}
    assert body["checks"]["database"]["vendor"] == "sqlite"
    assert body["checks"]["redis"]["status"] == "ok"
    assert body["checks"]["celery"]["status"] == "ok"
    assert any(name.startswith("worker@") for name in body["checks"]["celery"]["workers"])
    # And every core process is a child of the supervisor
    tree = stack.tree()
    assert bool(_named(tree, "redis-server")) == (not OUTSIDE_REDIS_URL)
    assert _named(tree, "uvicorn", "oms_site.asgi:application", f"--port {stack.port}")
    assert _named(tree, "celery", "worker", "-n worker@")
    assert _named(tree, "celery", "beat")
    # And the URL and the demo logins were printed
    assert f"OMS is running at http://127.0.0.1:{stack.port}/" in stack.log
    assert "admin, dealer, trader, viewer" in stack.log

    # When the supervisor gets SIGTERM
    stack.process.send_signal(signal.SIGTERM)
    # Then it exits cleanly and no process of the stack is left
    assert stack.wait_exit() == 0, stack.log
    assert _survivors(tree) == []
    assert "received SIGTERM: stopping the stack" in stack.log
    assert "stack stopped" in stack.log
    assert "database is locked" not in stack.log


def test_a_crashed_child_is_restarted_and_the_web_keeps_answering(start_stack):
    # Given a green stack
    stack = start_stack()
    stack.wait_green()
    tree = stack.tree()
    web = [p for p in _named(tree, "uvicorn") if p.ppid() == stack.process.pid]
    (beat,) = [p for p in _named(tree, "celery", "beat") if p.ppid() == stack.process.pid]
    # When beat dies without being asked to
    beat.kill()
    # Then the supervisor names it, restarts it, and the stack keeps running
    deadline = time.monotonic() + 20
    answers = []
    while "restarted beat" not in stack.log and time.monotonic() < deadline:
        answers.append(fetch_health(stack.health_url, timeout=3)[0])
        time.sleep(0.2)
    assert "beat exited unexpectedly with signal SIGKILL; restarting it in" in stack.log
    assert "restarted beat" in stack.log, stack.log
    assert stack.process.poll() is None
    # and the web never stopped answering (the same process), 200 throughout
    assert web and all(_alive(p) for p in web)
    assert answers and set(answers) == {200}
    (new_beat,) = [
        p for p in _named(stack.tree(), "celery", "beat") if p.ppid() == stack.process.pid
    ]
    assert new_beat.pid != beat.pid
    # When it is asked to stop, everything stops cleanly
    stack.process.send_signal(signal.SIGTERM)
    assert stack.wait_exit() == 0, stack.log
    assert _survivors([*tree, new_beat]) == []
