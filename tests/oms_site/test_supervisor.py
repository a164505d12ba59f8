"""The supervisor keeps a stack whole: all children run, or none do."""

from __future__ import annotations

import io
import signal
import sys
import threading
import time

import psutil
import pytest

from oms_site.run_registry import KIND_INFRA, ProcessSpec
from oms_site.supervisor import Supervisor, describe_exit

SLEEPER = "import time; print('up', flush=True); time.sleep(60)"


def py(name: str, code: str, kind: str = "other") -> ProcessSpec:
    return ProcessSpec(name=name, argv=(sys.executable, "-c", code), kind=kind)


@pytest.fixture
def make_supervisor(tmp_path):
    made: list[Supervisor] = []

    def _make(**kwargs) -> tuple[Supervisor, io.StringIO]:
        out = io.StringIO()
        options = {"stop_timeout": 5.0, "poll_interval": 0.05, **kwargs}
        supervisor = Supervisor(env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path, out=out, **options)
        made.append(supervisor)
        return supervisor, out

    yield _make
    for supervisor in made:  # never leave a child behind, whatever the test did
        supervisor.stop_all()


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def stop_soon(supervisor: Supervisor, after: float = 0.3) -> None:
    threading.Timer(after, supervisor.request_stop, args=("received SIGTERM",)).start()


def test_a_stop_request_stops_every_child_and_exits_zero(make_supervisor):
    # Given two running children
    supervisor, out = make_supervisor()
    children = supervisor.start([py("alpha", SLEEPER), py("beta", SLEEPER)])
    wait_for(lambda: out.getvalue().count("| up") == 2)
    # When a stop is requested (as the SIGTERM handler does)
    stop_soon(supervisor)
    code = supervisor.run()
    # Then both are gone and the exit is clean
    assert code == 0
    assert all(not child.running() for child in children)
    assert all(child.process.returncode == -signal.SIGTERM for child in children)
    assert "received SIGTERM: stopping the stack" in out.getvalue()
    assert "stack stopped" in out.getvalue()


def test_a_child_that_dies_stops_the_others_and_is_named(make_supervisor):
    # Given a long-running child and one that fails after a moment
    supervisor, out = make_supervisor()
    keeper, _flaky = supervisor.start(
        [py("keeper", SLEEPER), py("flaky", "import sys, time; time.sleep(0.3); sys.exit(3)")]
    )
    # When the stack is supervised
    code = supervisor.run()
    # Then the exit is non-zero, the dead child is named with its code, and the other stopped
    assert code == 1
    assert supervisor.failure == "flaky exited unexpectedly with code 3"
    assert "flaky exited unexpectedly with code 3; stopping the whole stack" in out.getvalue()
    assert not keeper.running()


def test_a_child_killed_by_a_signal_is_reported_with_the_signal(make_supervisor):
    # Given a running child
    supervisor, _ = make_supervisor()
    (child,) = supervisor.start([py("beat", SLEEPER)])
    # When something kills it outright
    psutil.Process(child.pid).kill()
    code = supervisor.run()
    # Then the report names the child and the signal
    assert code == 1
    assert supervisor.failure == "beat exited unexpectedly with signal SIGKILL"


def test_a_child_ignoring_sigterm_is_killed_after_the_timeout(make_supervisor):
    # Given a child that ignores SIGTERM
    supervisor, out = make_supervisor(stop_timeout=0.5)
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('up', flush=True); time.sleep(60)"
    )
    (child,) = supervisor.start([py("stubborn", stubborn)])
    wait_for(lambda: "| up" in out.getvalue())
    # When the stack is stopped
    stop_soon(supervisor, after=0.0)
    supervisor.run()
    # Then it is killed once the timeout is over, and that is said
    assert child.process.returncode == -signal.SIGKILL
    assert "stubborn did not stop within 0.5s: killing it" in out.getvalue()


def test_grandchildren_left_behind_are_stopped_too(make_supervisor):
    # Given a child that started a process of its own and dies on SIGTERM without it
    supervisor, _ = make_supervisor()
    parent_code = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "time.sleep(60)"
    )
    (child,) = supervisor.start([py("parent", parent_code)])
    wait_for(lambda: psutil.Process(child.pid).children())
    grandchild = psutil.Process(child.pid).children()[0]
    # When the stack is stopped
    stop_soon(supervisor, after=0.0)
    supervisor.run()
    # Then the grandchild is gone as well
    grandchild_gone = not grandchild.is_running() or grandchild.status() == psutil.STATUS_ZOMBIE
    assert grandchild_gone


def test_output_lines_are_prefixed_with_the_child_name(make_supervisor):
    # Given a child printing two lines, to stdout and stderr
    supervisor, out = make_supervisor()
    code = (
        "import sys, time; print('hello', flush=True); print('oops', file=sys.stderr); "
        "time.sleep(60)"
    )
    supervisor.start([py("web", code)])
    wait_for(lambda: "web | hello" in out.getvalue() and "web | oops" in out.getvalue())
    stop_soon(supervisor, after=0.0)
    supervisor.run()
    # Then each line carries the child's name
    lines = out.getvalue().splitlines()
    assert "web | hello" in lines
    assert "web | oops" in lines


def test_groups_stop_in_reverse_order(make_supervisor):
    # Given an infrastructure group started before an application group
    supervisor, out = make_supervisor()
    supervisor.start([py("redis", SLEEPER, kind=KIND_INFRA)])
    supervisor.start([py("web", SLEEPER), py("worker", SLEEPER)])
    # When the stack stops
    stop_soon(supervisor, after=0.2)
    supervisor.run()
    # Then the application is stopped before the infrastructure it uses
    text = out.getvalue()
    assert text.index("web stopped") < text.index("redis stopped")
    assert text.index("worker stopped") < text.index("redis stopped")


def test_two_children_with_one_name_are_refused(make_supervisor):
    # Given a running child named web
    supervisor, _ = make_supervisor()
    supervisor.start([py("web", SLEEPER)])
    # When another group brings a second web, then it is refused before anything starts
    with pytest.raises(ValueError, match="two stack processes are named 'web'"):
        supervisor.start([py("beat", SLEEPER), py("web", SLEEPER)])
    assert [child.name for child in supervisor.children] == ["web"]


@pytest.mark.parametrize(
    ("returncode", "text"),
    [(0, "code 0"), (2, "code 2"), (-9, "signal SIGKILL"), (-15, "signal SIGTERM")],
)
def test_exit_descriptions(returncode, text):
    assert describe_exit(returncode) == text
