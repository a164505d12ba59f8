"""Housekeeping for the internal exchange (beat jobs)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from execution.models import CommandStatus, VenueCommand
from oms_site.task_enqueue import task_named

RESEND_AFTER = timedelta(seconds=30)
RESEND_BATCH = 500


def pending_commands_resend(*, older_than: timedelta = RESEND_AFTER) -> int:
    """Re-enqueue commands still pending after `older_than` (e.g. their task was lost with a
    Redis restart). Safe: a command already done when the copy arrives is skipped."""
    from execution.exchange.shard import shard_queue

    exchange_command = task_named("execution.exchange_command")

    cutoff = timezone.now() - older_than
    rows = (
        VenueCommand.objects.filter(status=CommandStatus.PENDING, created_at__lt=cutoff)
        .order_by("created_at", "id")
        .values_list("id", "shard")[:RESEND_BATCH]
    )
    count = 0
    for command_id, shard in rows:
        exchange_command.apply_async(args=[command_id], queue=shard_queue(shard))
        count += 1
    return count
