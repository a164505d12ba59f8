"""Polling jobs beat runs every few seconds stay out of the log unless they did something."""

from __future__ import annotations

import logging

import pytest
from celery import beat
from celery.app import trace
from celery.worker import strategy

QUIET = "orders.algos_run_due"  # settings.OMS_LOG_QUIET_TASKS (every 2 s)
OTHER = "orders.submit"  # real work, not a poll
COMMAND = "execution.exchange_command"  # settings.OMS_LOG_QUIET_SUCCESS_TASKS


class _Entry:
    def __init__(self, task: str) -> None:
        self.name = task.replace(".", "-")
        self.task = task


def _beat_sends(task: str) -> None:
    # The line celery.beat.Scheduler.apply_entry writes for every send.
    beat.info("Scheduler: Sending due task %s (%s)", _Entry(task).name, task)


def _worker_runs(task: str, return_value: str) -> None:
    context = {"id": "t-1", "name": task, "args": "()", "kwargs": "{}", "eta": None}
    strategy.logger.info(trace.LOG_RECEIVED, context, extra={"data": context})
    trace.info(
        trace.LOG_SUCCESS,
        {"id": "t-1", "name": task, "return_value": return_value, "runtime": 0.01},
    )


@pytest.fixture
def log(caplog):
    caplog.set_level(logging.INFO)
    return caplog


def _lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def test_an_idle_polling_job_writes_no_line(log):
    # when beat sends algos_run_due and the worker finds nothing due
    _beat_sends(QUIET)
    _worker_runs(QUIET, "[]")
    # then nothing of it is in the log
    assert not [line for line in _lines(log) if QUIET in line or "algos-run-due" in line]


def test_a_polling_job_that_did_something_is_logged(log):
    _beat_sends(QUIET)
    _worker_runs(QUIET, "['0b6c…']")
    assert [line for line in _lines(log) if "succeeded" in line] == [
        f"Task {QUIET}[t-1] succeeded in 0.01s: ['0b6c…']"
    ]


def test_other_tasks_are_logged_as_before(log):
    _beat_sends(OTHER)
    _worker_runs(OTHER, "[]")
    lines = _lines(log)
    assert f"Scheduler: Sending due task orders-submit ({OTHER})" in lines
    assert f"Task {OTHER}[t-1] received" in lines
    assert f"Task {OTHER}[t-1] succeeded in 0.01s: []" in lines


def test_a_failing_polling_job_is_still_logged(log):
    logging.getLogger("celery.app.trace").error(
        trace.LOG_FAILURE,
        {"id": "t-1", "name": QUIET, "description": "raised unexpected", "exc": "boom"},
    )
    assert f"Task {QUIET}[t-1] raised unexpected: boom" in _lines(log)


@pytest.mark.parametrize(
    ("task", "idle_result"),
    [
        ("orders.sweep_pending_new", "[]"),
        ("notifications.sweep_deliveries", "0"),
        ("execution.exchange_commands_resend", "0"),
        ("strategies.sweep_accepted", "[]"),
        ("pnl.reconcile_account", "0"),
        ("orders.expire_due", "[]"),
    ],
)
def test_every_frequent_poll_is_quiet_when_idle(log, task, idle_result):
    # given the stack idle: beat's jobs of every minute or faster find nothing to do
    _beat_sends(task)
    _worker_runs(task, idle_result)
    # then they leave no line (idle, they were most of what the log said)
    assert _lines(log) == []


def test_a_done_exchange_command_leaves_no_line_a_failed_one_does(log):
    # given the demo market maker re-quoting: exchange commands done every few seconds
    _worker_runs(COMMAND, "'replaced'")
    # then their receipt and success are not logged (each outcome is stored with the command)
    assert _lines(log) == []
    # but a failure is
    logging.getLogger("celery.app.trace").error(
        trace.LOG_FAILURE,
        {"id": "t-2", "name": COMMAND, "description": "raised unexpected", "exc": "boom"},
    )
    assert _lines(log) == [f"Task {COMMAND}[t-2] raised unexpected: boom"]
