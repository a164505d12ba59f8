"""Keep frequent polling jobs out of the log unless they did something.

Beat sends `orders.algos_run_due` every 2 s; with Celery's INFO lines for the send (beat),
the receipt and the success (worker) it was a third of the log while doing nothing. For the
tasks named here, `QuietPollingTasks` drops those three lines when the job returned nothing
(None, [], 0, ...). A job that did something, a failure, a retry and every other task are
logged as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

# What a polling job returns when it had nothing to do (Celery logs the result's repr).
EMPTY_RESULTS = frozenset({"None", "[]", "()", "{}", "0", "''", "set()"})
BEAT_SENDING = "Scheduler: Sending due task"
TASK_RECEIVED = "] received"
TASK_SUCCEEDED = "] succeeded in"

# The loggers that write those lines (celery/beat.py, worker/strategy.py, app/trace.py).
CELERY_TASK_LOGGERS = ("celery.beat", "celery.worker.strategy", "celery.app.trace")


class QuietPollingTasks(logging.Filter):
    """`tasks`: logged only when they did something. `quiet_success`: logged only when they
    fail (their outcome is stored elsewhere and they run too often to read)."""

    def __init__(self, tasks: Iterable[str] = (), quiet_success: Iterable[str] = ()) -> None:
        super().__init__()
        self.tasks = frozenset(tasks)
        self.quiet_success = frozenset(quiet_success)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO or not (self.tasks or self.quiet_success):
            return True
        message = str(record.msg)
        args = record.args
        if message.startswith(BEAT_SENDING) and isinstance(args, tuple) and len(args) == 2:
            return args[1] not in self.tasks  # (entry name, task name)
        if isinstance(args, dict) and args.get("name") in self.quiet_success:
            return TASK_RECEIVED not in message and TASK_SUCCEEDED not in message
        if isinstance(args, dict) and args.get("name") in self.tasks:
            if TASK_RECEIVED in message:
                return False
            if TASK_SUCCEEDED in message:
                return str(args.get("return_value")) not in EMPTY_RESULTS
        return True


class ClientErrorsWithoutTraceback(logging.Filter):
    """A refused request (4xx) is one line in the log, without the exception's traceback.

    Django logs PermissionDenied, BadRequest and SuspiciousOperation with their traceback: a
    user opening a page they may not see (the back office, as a trader) wrote ten lines of
    stack into the web log. The traceback says nothing about a client error; a server
    error (5xx) keeps it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status_code = getattr(record, "status_code", None)
        if isinstance(status_code, int) and status_code < 500:
            record.exc_info = None
            record.exc_text = None
        return True
