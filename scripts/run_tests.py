"""`make test`: the whole pytest suite in three passes, then one line with the totals.

1. Everything but e2e and integration tests, spread over PYTEST_WORKERS processes
   (pytest-xdist; default 2, 0 = no xdist). Each xdist worker gets its own test database
   (pytest-django) and its own Redis database (settings.py), so they never meet.
2. The integration tests (real processes and services), one at a time: they start servers
   and stacks of their own.
3. The e2e tests (real browser), one at a time, in a process of their own (Playwright's
   sync API keeps an event loop running in the main thread once it has started).

A pass that collects no test (pytest's exit code 5) is not a failure. Extra arguments go to
every pass: `make test PYTEST_ARGS="tests/orders -x"`.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "var" / "test-results"
NO_TESTS_COLLECTED = 5


def _totals(report: Path) -> dict[str, int]:
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if not report.is_file():
        return counts
    root = ET.parse(report).getroot()  # noqa: S314 - a report pytest just wrote here
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    for suite in suites:
        for key in counts:
            counts[key] += int(suite.get(key, 0))
    return counts


def _run_pass(name: str, marker: str, workers: str, extra: list[str]) -> tuple[int, dict]:
    report = RESULTS / f"{name}.xml"
    report.unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", "-q", "-m", marker, f"--junitxml={report}"]
    if workers not in ("", "0", "1"):
        command += ["-n", workers, "--dist", "loadfile"]
    command += extra
    print(f"=== {name}: {shlex.join(command[1:])}", flush=True)
    started = time.monotonic()
    code = subprocess.call(command, cwd=ROOT)  # noqa: S603 - our own interpreter and args
    print(f"=== {name}: exit {code} in {time.monotonic() - started:.1f}s", flush=True)
    return (0 if code == NO_TESTS_COLLECTED else code), _totals(report)


def main() -> int:
    RESULTS.mkdir(parents=True, exist_ok=True)
    extra = shlex.split(os.environ.get("PYTEST_ARGS", ""))
    workers = os.environ.get("PYTEST_WORKERS") or "2"
    passes = [
        ("parallel", "not e2e and not integration", workers),
        # Integration before e2e, in processes of their own: Playwright's sync API leaves
        # its event loop running in the main thread for the rest of its process, where the
        # integration tests' asyncio code (and async_to_sync) cannot run.
        ("integration", "integration and not e2e", "0"),
        ("e2e", "e2e", "0"),
    ]
    exit_code = 0
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for name, marker, pass_workers in passes:
        code, counts = _run_pass(name, marker, pass_workers, extra)
        exit_code = exit_code or code
        for key in total:
            total[key] += counts[key]
    failed = total["failures"] + total["errors"]
    passed = total["tests"] - failed - total["skipped"]
    print(f"tests: {passed} passed, {failed} failed, {total['skipped']} skipped", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
