"""A small process supervisor: start children, prefix their output, restart the ones that
crash, stop them all together.

A child that dies without being asked to is reported (name and exit code) and started again
after a backoff (1 s, doubling up to 30 s), while every other child — the web above all —
keeps running; the stack reports itself "degraded" meanwhile (a status file that /healthz
reads, see `write_status`). Only when one child crashes `max_crashes` times within
`window_s` (5 in 60 s) does the supervisor give up: it says so loudly and stops every child,
rather than keep a crash loop half-running. When the supervisor is asked to stop (SIGINT,
SIGTERM, SIGHUP), every child is stopped too.

Children are started in groups ("infra" first, then the application); groups are stopped
in reverse order, so Redis outlives every process that talks to it. Each child runs in its
own session (so a terminal's Ctrl-C reaches only the supervisor, which then stops children
in order) and, on Linux, gets SIGTERM if the supervisor itself is killed outright.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import psutil

from oms_site.run_registry import ProcessSpec

SUPERVISOR_NAME = "oms"
_COLORS = ("36", "33", "35", "32", "34", "96", "93", "95", "92", "94")


def _parent_death_signal():
    """A preexec function asking Linux to SIGTERM the child when the supervisor dies."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    sigterm = int(signal.SIGTERM)

    def _preexec() -> None:
        prctl(pr_set_pdeathsig, sigterm, 0, 0, 0)

    return _preexec


_PREEXEC = _parent_death_signal()


def describe_exit(returncode: int) -> str:
    """`code 3`, or `signal SIGKILL` for a child killed by a signal."""
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"code {returncode}"


@dataclass(frozen=True)
class RestartPolicy:
    """How crashed children come back: after `backoff_initial_s`, doubling per crash within
    the window up to `backoff_max_s`; the `max_crashes`-th crash of one child within
    `window_s` stops the whole stack instead."""

    max_crashes: int = 5
    window_s: float = 60.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0

    def backoff(self, recent_crashes: int) -> float:
        return min(self.backoff_max_s, self.backoff_initial_s * 2 ** max(0, recent_crashes - 1))


@dataclass
class Child:
    spec: ProcessSpec
    process: subprocess.Popen
    reader: threading.Thread
    index: int = 0
    stopping: bool = False
    # Last known descendants (pool processes, web workers): swept if they outlive the child.
    descendants: list[psutil.Process] = field(default_factory=list)
    crashes: list[float] = field(default_factory=list)  # monotonic times within the window
    restarts: int = 0
    restart_at: float | None = None  # set while a crashed child waits for its restart
    last_exit: str = ""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    @property
    def restarting(self) -> bool:
        return self.restart_at is not None


class Supervisor:
    """Starts `ProcessSpec`s as children and keeps the stack whole (see the module docstring)."""

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        cwd: Path | str,
        out: TextIO | None = None,
        stop_timeout: float = 10.0,
        poll_interval: float = 0.1,
        restart_policy: RestartPolicy | None = None,
        status_file: Path | str | None = None,
    ) -> None:
        self.env = dict(env)
        self.cwd = str(cwd)
        self.out = out if out is not None else sys.stdout
        self.stop_timeout = stop_timeout
        self.poll_interval = poll_interval
        self.restart_policy = restart_policy or RestartPolicy()
        # Children (and so /healthz) find it through OMS_SUPERVISOR_STATUS_FILE.
        self.status_file = Path(status_file) if status_file else None
        if self.status_file is not None:
            self.env["OMS_SUPERVISOR_STATUS_FILE"] = str(self.status_file)
        self.groups: list[list[Child]] = []
        self.failure: str | None = None  # why the stack stopped on its own, if it did
        self.stop_reason: str | None = None  # set by request_stop (signal handlers)
        self._out_lock = threading.Lock()
        self._width = len(SUPERVISOR_NAME)
        self._color = (
            hasattr(self.out, "isatty") and self.out.isatty() and "NO_COLOR" not in os.environ
        )
        self._last_snapshot = 0.0

    # --- output -----------------------------------------------------------------------
    def _prefix(self, name: str, index: int) -> str:
        label = name.ljust(self._width)
        if self._color:
            return f"\x1b[{_COLORS[index % len(_COLORS)]}m{label} |\x1b[0m "
        return f"{label} | "

    def _write(self, text: str) -> None:
        with self._out_lock:
            try:
                self.out.write(text)
                self.out.flush()
            except (BrokenPipeError, ValueError):
                pass  # our own stdout is gone (closed pipe): children keep running regardless

    def say(self, message: str) -> None:
        """A line from the supervisor itself, prefixed like the children's."""
        prefix = f"{SUPERVISOR_NAME.ljust(self._width)} | "
        self._write("".join(f"{prefix}{line}\n" for line in message.splitlines() or [""]))

    def _pump(self, stream, prefix_of) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            self._write(f"{prefix_of()}{line}\n")
        stream.close()

    def align(self, names: Iterable[str]) -> None:
        """Pad every prefix to the longest of these names (call before starting them)."""
        self._width = max([self._width, *(len(name) for name in names)])

    # --- lifecycle --------------------------------------------------------------------
    @property
    def children(self) -> list[Child]:
        return [child for group in self.groups for child in group]

    @property
    def stopping(self) -> bool:
        return self.stop_reason is not None or self.failure is not None

    def start(self, specs: Iterable[ProcessSpec]) -> list[Child]:
        """Start one group of children (stopped before the groups started earlier)."""
        specs = list(specs)
        taken = {child.name for child in self.children}
        for spec in specs:
            if spec.name in taken:
                raise ValueError(f"two stack processes are named {spec.name!r}")
            taken.add(spec.name)
        self.align(spec.name for spec in specs)
        group: list[Child] = []
        self.groups.append(group)
        for spec in specs:
            index = len(self.children)
            process, reader = self._spawn(spec, index)
            group.append(Child(spec=spec, process=process, reader=reader, index=index))
            self.say(f"started {spec.name} (pid {process.pid}): {' '.join(spec.argv)}")
        self.write_status()
        return group

    def _spawn(self, spec: ProcessSpec, index: int) -> tuple[subprocess.Popen, threading.Thread]:
        process = subprocess.Popen(  # noqa: S603 - argv comes from our own ProcessSpecs
            spec.argv,
            cwd=self.cwd,
            env={**self.env, **spec.env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_PREEXEC,  # only a prctl call: safe beside the reader threads
        )
        reader = threading.Thread(
            target=self._pump,
            args=(process.stdout, lambda name=spec.name, i=index: self._prefix(name, i)),
            name=f"output-{spec.name}",
            daemon=True,
        )
        reader.start()
        return process, reader

    def request_stop(self, reason: str) -> None:
        """Ask the run loop to stop everything; safe to call from a signal handler."""
        if self.stop_reason is None:
            self.stop_reason = reason

    def dead_child(self) -> Child | None:
        """The first child that exited without being asked to (and is not yet scheduled
        for a restart), if any."""
        for child in self.children:
            if not child.stopping and not child.restarting and not child.running():
                return child
        return None

    def _on_crash(self, child: Child, now: float) -> None:
        """Schedule the restart of a crashed child, or give up on a crash loop."""
        policy = self.restart_policy
        child.last_exit = describe_exit(child.process.returncode)
        child.crashes = [at for at in child.crashes if now - at < policy.window_s]
        child.crashes.append(now)
        crashed = f"{child.name} exited unexpectedly with {child.last_exit}"
        if len(child.crashes) >= policy.max_crashes:
            self.failure = (
                f"{crashed}: {len(child.crashes)} crashes within {policy.window_s:g}s, giving up"
            )
            self.say(f"!!! {self.failure}; stopping the whole stack !!!")
            return
        delay = policy.backoff(len(child.crashes))
        child.restart_at = now + delay
        self.say(
            f"{crashed}; restarting it in {delay:g}s (crash {len(child.crashes)} of "
            f"{policy.max_crashes} allowed within {policy.window_s:g}s; the rest keeps running)"
        )
        self._sweep([child])  # its pool processes must not outlive it into the restart
        child.reader.join(timeout=1.0)
        self.write_status()

    def _restart_due(self, now: float) -> None:
        for child in self.children:
            if child.restart_at is None or now < child.restart_at or child.stopping:
                continue
            child.restart_at = None
            child.restarts += 1
            child.descendants = []
            child.process, child.reader = self._spawn(child.spec, child.index)
            self.say(f"restarted {child.name} (pid {child.pid}, restart {child.restarts})")
            self.write_status()

    def write_status(self) -> None:
        """The state of every child for /healthz (oms_site.health): written atomically."""
        if self.status_file is None:
            return
        status = {
            "pid": os.getpid(),
            "processes": {
                child.name: {
                    "state": "restarting" if child.restarting else "running",
                    "pid": child.pid,
                    "restarts": child.restarts,
                    "last_exit": child.last_exit or None,
                }
                for child in self.children
            },
        }
        self.status_file.parent.mkdir(parents=True, exist_ok=True)
        partial = self.status_file.with_name(self.status_file.name + ".tmp")
        partial.write_text(json.dumps(status))
        os.replace(partial, self.status_file)

    def remove_status(self) -> None:
        if self.status_file is not None:
            self.status_file.unlink(missing_ok=True)

    def _snapshot_descendants(self) -> None:
        for child in self.children:
            if child.running():
                with contextlib.suppress(psutil.Error):
                    child.descendants = psutil.Process(child.pid).children(recursive=True)

    def check(self) -> bool:
        """One supervision step: False once the stack must stop (a stop request or a death)."""
        now = time.monotonic()
        if now - self._last_snapshot >= 1.0:
            self._last_snapshot = now
            self._snapshot_descendants()
        if not self.stopping:
            dead = self.dead_child()
            while dead is not None and self.failure is None:
                self._on_crash(dead, now)
                dead = self.dead_child()
            if not self.stopping:
                self._restart_due(now)
        return not self.stopping

    def run(self) -> int:
        """Supervise (restarting crashed children) until a stop request or a crash loop;
        stop everything; exit status."""
        while self.check():
            time.sleep(self.poll_interval)
        if self.failure is None:
            self.say(f"{self.stop_reason}: stopping the stack")
        self.stop_all()
        if self.failure is not None:
            self.say(f"stack stopped because {self.failure}")
            return 1
        self.say("stack stopped")
        return 0

    def stop_all(self) -> None:
        """Stop every group, the last started first; SIGKILL what outlives the timeout."""
        self._snapshot_descendants()
        for group in reversed(self.groups):
            self._stop_group(group)
        self.remove_status()

    def _stop_group(self, group: list[Child]) -> None:
        for child in group:
            child.stopping = True
            if child.running():
                # Only the child itself: a Celery worker or uvicorn master then shuts its
                # own pool down in order (a running task finishes or is re-queued).
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signal.SIGTERM)
        started = time.monotonic()
        deadline = started + self.stop_timeout
        pending = [child for child in group if child.process.returncode is None]
        while pending and time.monotonic() < deadline:
            for child in list(pending):
                if not child.running():
                    pending.remove(child)
                    self._report_stopped(child, time.monotonic() - started)
            time.sleep(0.05)
        for child in pending:
            self.say(f"{child.name} did not stop within {self.stop_timeout:g}s: killing it")
            with contextlib.suppress(ProcessLookupError, PermissionError):
                # The child is alive, so its process group id cannot have been reused.
                os.killpg(child.pid, signal.SIGKILL)
            child.process.wait()
            self._report_stopped(child, time.monotonic() - started)
        self._sweep(group)
        for child in group:
            child.reader.join(timeout=2.0)

    def _report_stopped(self, child: Child, seconds: float) -> None:
        self.say(
            f"{child.name} stopped ({describe_exit(child.process.returncode)}) in {seconds:.1f}s"
        )

    def _sweep(self, group: list[Child]) -> None:
        """Terminate descendants that outlived their parent (psutil checks pid identity)."""
        leftovers = [proc for child in group for proc in child.descendants if _is_alive(proc)]
        if not leftovers:
            return
        for proc in leftovers:
            with contextlib.suppress(psutil.Error):
                proc.terminate()
        still_alive = _wait_gone(leftovers, timeout=min(self.stop_timeout, 5.0))
        for proc in still_alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        _wait_gone(still_alive, timeout=2.0)


def _wait_gone(procs: list[psutil.Process], *, timeout: float) -> list[psutil.Process]:
    """Wait until none is alive (a zombie counts as gone); return the survivors."""
    deadline = time.monotonic() + timeout
    alive = [proc for proc in procs if _is_alive(proc)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [proc for proc in alive if _is_alive(proc)]
    return alive


def _is_alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
