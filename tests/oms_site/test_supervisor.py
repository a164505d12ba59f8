"""The supervisor keeps a stack up: crashed children come back with backoff, a crash loop
stops everything, a stop request stops every child."""

from __future__ import annotations

import io
import json
import signal
import sys
import threading
import time

import psutil
import pytest

from oms_site.run_registry import KIND_INFRA, ProcessSpec
from oms_site.supervisor import RestartPolicy, Supervisor, describe_exit

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


FAST = RestartPolicy(max_crashes=3, window_s=30.0, backoff_initial_s=0.2, backoff_max_s=1.0)


def test_a_crashed_child_is_restarted_with_backoff_while_the_others_keep_running(
    make_supervisor, tmp_path
):
    # Given two running children under a supervisor writing its status file
    status_file = tmp_path / "status.json"
    supervisor, out = make_supervisor(restart_policy=FAST, status_file=status_file)
    keeper, beat = supervisor.start([py("keeper", SLEEPER), py("beat", SLEEPER)])
    keeper_pid, first_pid = keeper.pid, beat.pid
    runner = threading.Thread(target=supervisor.run)
    runner.start()
    try:
        # When one of them is killed outright
        psutil.Process(first_pid).kill()
        # Then it is named with the signal and reported as restarting meanwhile
        wait_for(
            lambda: "beat exited unexpectedly with signal SIGKILL; restarting" in out.getvalue()
        )
        states = [json.loads(status_file.read_text())["processes"]["beat"]["state"]]
        # and it comes back as a new process, while the other never stopped
        wait_for(lambda: "restarted beat" in out.getvalue())
        assert beat.pid != first_pid and beat.running()
        assert keeper.running() and keeper.pid == keeper_pid
        assert states == ["restarting"]
        processes = json.loads(status_file.read_text())["processes"]
        assert processes["beat"] == {
            "state": "running",
            "pid": beat.pid,
            "restarts": 1,
            "last_exit": "signal SIGKILL",
        }
        assert not supervisor.stopping
    finally:
        supervisor.request_stop("received SIGTERM")
        runner.join(timeout=15)
    assert not status_file.exists()  # removed once the stack is stopped


def test_a_crash_loop_stops_the_whole_stack_loudly(make_supervisor):
    # Given a long-running child and one that fails every time shortly after it starts
    supervisor, out = make_supervisor(restart_policy=FAST)
    keeper, _flaky = supervisor.start(
        [py("keeper", SLEEPER), py("flaky", "import sys, time; time.sleep(0.2); sys.exit(3)")]
    )
    # When the stack is supervised
    started = time.monotonic()
    code = supervisor.run()
    # Then flaky is restarted twice, and its third crash within the window ends everything:
    # non-zero exit, the reason named loudly, the other child stopped
    assert code == 1
    assert out.getvalue().count("restarted flaky") == 2
    assert supervisor.failure == (
        "flaky exited unexpectedly with code 3: 3 crashes within 30s, giving up"
    )
    assert f"!!! {supervisor.failure}; stopping the whole stack !!!" in out.getvalue()
    assert not keeper.running()
    assert time.monotonic() - started < 10


def test_crashes_further_apart_than_the_window_never_give_up(make_supervisor):
    # Given a policy of 2 crashes within 0.5 s, and a child that fails after ~0.6 s each time
    policy = RestartPolicy(max_crashes=2, window_s=0.5, backoff_initial_s=0.1)
    supervisor, out = make_supervisor(restart_policy=policy)
    supervisor.start([py("slow", "import sys, time; time.sleep(0.6); sys.exit(1)")])

    def stop_after_three_restarts() -> None:
        wait_for(lambda: out.getvalue().count("restarted slow") >= 3)
        supervisor.request_stop("received SIGTERM")

    # When it has crashed three times
    stopper = threading.Thread(target=stop_after_three_restarts)
    stopper.start()
    code = supervisor.run()
    stopper.join()
    # Then it was restarted each time, and the stack only stopped when asked to
    assert code == 0
    assert supervisor.failure is None


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
