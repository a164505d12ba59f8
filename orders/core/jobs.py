"""`enqueue(name, ...)`: send a Celery task by its name once the surrounding transaction
commits (eager mode runs it then, in process). The core and the automation wing send their
work this way, so no service module imports a task module (tasks import services).

A broker that is down at that moment is logged with what was committed and who sends it
later (`recovery`), not raised: the data is committed and true (oms_site.task_enqueue).
"""

from __future__ import annotations

from oms_site.task_enqueue import enqueue_after_commit, task_named


def send(name: str, *args: object, countdown: float | None = None, **kwargs: object) -> object:
    """Send the task now, e.g. from a beat job outside any transaction; `countdown`: run it
    that many seconds later."""
    task = task_named(name)
    if countdown is None:
        return task.delay(*args, **kwargs)
    return task.apply_async(args, kwargs, countdown=countdown)


def enqueue(
    name: str,
    *args: object,
    what: str,
    recovery: str,
    countdown: float | None = None,
    **kwargs: object,
) -> None:
    """After commit: send task `name` with these arguments."""
    enqueue_after_commit(
        lambda: send(name, *args, countdown=countdown, **kwargs), what=what, recovery=recovery
    )
