"""Life of a shard worker process (`celery -A oms_site worker -Q exchange.shard.<n> -c 1 -P solo`).

At start (`worker_ready`): for every `exchange.shard.<n>` queue it consumes, take the lease,
rebuild the books from the DB and refresh the depth snapshots. A background thread then
heart-beats the lease every TTL/3; a worker that could not take a lease (another live holder)
stays a standby and takes over once the holder's heartbeat is older than the TTL. At shutdown
the lease is released so a replacement starts at once.
"""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections

from execution import conf

logger = logging.getLogger(__name__)

SHARD_QUEUE_PREFIX = "exchange.shard."
_stop = threading.Event()
_thread: threading.Thread | None = None


def consumed_shards(queue_names) -> list[int]:
    shards = []
    for name in queue_names:
        if name.startswith(SHARD_QUEUE_PREFIX) and name[len(SHARD_QUEUE_PREFIX) :].isdigit():
            shards.append(int(name[len(SHARD_QUEUE_PREFIX) :]))
    return sorted(shards)


_standing_by: set[int] = set()


def _take(shard: int) -> bool:
    from execution.exchange.shard import shard_state

    state = shard_state(shard)
    if not state.acquire():
        if shard not in _standing_by:  # say it once, not at every heartbeat
            logger.warning("shard %s: lease held by another process; standing by", shard)
            _standing_by.add(shard)
        return False
    _standing_by.discard(shard)
    state.rebuild()
    state.publish_all_depth()
    return True


def _heartbeat_loop(shards: list[int]) -> None:
    from execution.exchange.shard import shard_state

    interval = max(1.0, conf.lease_ttl_s() / 3)
    while not _stop.wait(interval):
        close_old_connections()
        for shard in shards:
            state = shard_state(shard)
            try:
                if state.holds_lease:
                    state.heartbeat()
                else:
                    _take(shard)
            except Exception:
                # thread; logged, and a lease not renewed in time is simply taken over.
                logger.exception("shard %s: lease heartbeat failed", shard)


def on_worker_ready(sender=None, **kwargs) -> None:
    global _thread
    queues = getattr(getattr(getattr(sender, "app", None), "amqp", None), "queues", None)
    names = list(getattr(queues, "consume_from", None) or {})
    shards = consumed_shards(names)
    if not shards:
        return
    for shard in shards:
        _take(shard)
    _stop.clear()
    _thread = threading.Thread(
        target=_heartbeat_loop, args=(shards,), name="shard-lease", daemon=True
    )
    _thread.start()


def on_worker_shutdown(sender=None, **kwargs) -> None:
    from execution.exchange.shard import shard_states

    _stop.set()
    for state in shard_states():
        try:
            state.release()
        except Exception:
            logger.exception("shard %s: lease release failed", state.shard)
