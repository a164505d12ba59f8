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


def test_the_task_by_name_is_the_one_its_module_defines():
    from notifications.tasks import deliver_webhook

    assert task_named("notifications.deliver_webhook") is deliver_webhook._get_current_object()


def test_an_unknown_name_is_an_error_not_a_silent_drop():
    with pytest.raises(KeyError):
        task_named("notifications.no_such_task")
