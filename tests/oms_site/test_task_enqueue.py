"""oms_site.task_enqueue.task_named: services send their app's tasks by name (no import of
the tasks module, which imports them), in any process."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.conf import settings

from oms_site.task_enqueue import task_named

_PROBE = """
import sys
import django
django.setup()
from oms_site.task_enqueue import task_named
before = "strategies.tasks" in sys.modules
task = task_named("strategies.signal_fan_out")
print(before, "strategies.tasks" in sys.modules, task.name, task.queue)
"""


def test_a_process_that_never_imported_the_tasks_module_still_finds_the_task():
    # Given a fresh Django process (a web process: no Celery autodiscovery has run)
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=settings.BASE_DIR,
    )
    # When a service asks for a task by name, then it gets the registered task
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "strategies.signal_fan_out", "execution"]


_CONCURRENT_PROBE = """
import threading
import django
django.setup()
from oms_site.task_enqueue import task_named
barrier = threading.Barrier(16)
failures = []
def ask():
    barrier.wait()
    try:
        task_named("orders.submit")
    except Exception as exc:
        failures.append(type(exc).__name__)
threads = [threading.Thread(target=ask) for _ in range(16)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(len(failures), sorted(set(failures)))
"""


def test_the_first_requests_of_a_fresh_process_all_find_the_task():
    # Given a fresh Django process whose first 16 requests (threads) ask for a task at once
    result = subprocess.run(
        [sys.executable, "-c", _CONCURRENT_PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=settings.BASE_DIR,
    )
    # Then every one of them gets it (none sees the tasks modules half imported)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0 []", result.stdout


def test_the_task_by_name_is_the_one_its_module_defines():
    from notifications.tasks import deliver_webhook

    assert task_named("notifications.deliver_webhook") is deliver_webhook._get_current_object()


def test_an_unknown_name_is_an_error_not_a_silent_drop():
    with pytest.raises(KeyError):
        task_named("notifications.no_such_task")
