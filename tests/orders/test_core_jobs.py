"""orders/core/jobs.py: the core and the automation wing send their Celery tasks by name,
after the transaction that decided them commits — never before, never on a rollback."""

from __future__ import annotations

import pytest
from django.db import transaction

from oms_site.task_enqueue import task_named
from orders.core import jobs

pytestmark = pytest.mark.django_db

TASK = "orders.expire_due"


@pytest.fixture
def sent(monkeypatch):
    """What reached the task: ("delay", args, kwargs) or ("apply_async", args, kwargs,
    countdown)."""
    calls: list[tuple] = []
    task = task_named(TASK)
    monkeypatch.setattr(
        task, "delay", lambda *args, **kwargs: calls.append(("delay", args, kwargs))
    )
    monkeypatch.setattr(
        task,
        "apply_async",
        lambda args, kwargs, countdown: calls.append(("apply_async", args, kwargs, countdown)),
    )
    return calls


def test_the_task_is_sent_once_the_transaction_commits(sent, django_capture_on_commit_callbacks):
    # Given a job enqueued inside a transaction
    with django_capture_on_commit_callbacks(execute=True):
        jobs.enqueue(TASK, "order-1", what="order order-1", recovery="the sweeper", resubmit=True)
        # Then nothing is sent while the transaction is open
        assert sent == []

    # When it commits: the named task gets the arguments, once
    assert sent == [("delay", ("order-1",), {"resubmit": True})]


def test_a_rolled_back_transaction_sends_nothing(sent, django_capture_on_commit_callbacks):
    # Given a job enqueued in a transaction that then fails
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        jobs.enqueue(TASK, "order-2", what="order order-2", recovery="none")
        raise RuntimeError("the placement failed")

    # Then the task is never sent
    assert callbacks == []
    assert sent == []


def test_a_countdown_runs_the_task_later(sent, django_capture_on_commit_callbacks):
    # When a job is enqueued to run a second after the commit (a re-entry's delay)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.enqueue(TASK, "order-3", what="re-entry", recovery="none", countdown=1.0)

    # Then it is scheduled with that countdown
    assert sent == [("apply_async", ("order-3",), {}, 1.0)]


def test_an_unknown_task_name_is_an_error_not_a_silent_drop(django_capture_on_commit_callbacks):
    # When a job names a task nobody registered
    with pytest.raises(LookupError), django_capture_on_commit_callbacks(execute=True):
        jobs.enqueue("orders.no_such_task", what="nothing", recovery="none")
