"""Celery delivery settings chosen for crashes (issue 14): acks_late, and a killed worker's
unacknowledged messages handed out again within a minute or so, not after an hour."""

from __future__ import annotations

from django.conf import settings

from execution.tasks import LEASE_RETRY_COUNTDOWN_S
from oms_site.celery import app


def test_a_killed_workers_messages_come_back_within_about_a_minute():
    # given the broker options the workers and the web use
    options = app.conf.broker_transport_options
    timeout = options["visibility_timeout"]
    check_every = options["unacked_restore_interval"] * options["unacked_restore_throttle"]
    # then tasks are acknowledged after they ran, and requeued when their process dies
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    # and a message whose worker died unacknowledged is handed out again within ~a minute
    assert timeout + check_every <= 90
    # and never while it is still only waiting for its countdown
    assert timeout > 10 * max(LEASE_RETRY_COUNTDOWN_S, settings.OMS_REENTRY_DELAY_SECS)
