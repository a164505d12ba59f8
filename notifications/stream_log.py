"""Per-user push sequence numbers and the short log behind `GET /api/v1/stream/missed`.

Every account or notification push is numbered for each user it is for, when it is
delivered (after the commit: a rolled-back push never gets a number): one counter per user,
so a user's pushes carry 1, 2, 3, ... whichever of their connections or channels they go
to. Each numbered push is also kept in the user's log for `OMS_STREAM_RETENTION_SECS`
(default 600 s) and at most `OMS_STREAM_RETENTION_MAX` (default 1,000) pushes, so a client
back from a drop asks for what came after the last number it saw.

Storage: with Redis (`make run`, services mode) a counter (INCRBY, never expires: numbers
only ever grow) and a sorted set scored by number per user, written for a whole burst in
two pipelined round trips; without Redis (tests, a bare runserver) the same in Django's
cache of the process. Market pushes (quotes, book) are latest-value snapshots: not
numbered, not kept (re-read them over REST).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.utils import timezone

_SEQ_KEY = "oms:stream:seq:{user_id}"
_LOG_KEY = "oms:stream:log:{user_id}"


@dataclass(frozen=True, slots=True)
class LoggedPush:
    seq: int
    channel: str
    account: str | None
    event: str
    data: dict[str, Any]
    at: datetime


def retention() -> timedelta:
    return timedelta(seconds=settings.OMS_STREAM_RETENTION_SECS)


def _entry(push: LoggedPush) -> str:
    return json.dumps(
        {
            "seq": push.seq,
            "channel": push.channel,
            "account": push.account,
            "event": push.event,
            "data": push.data,
            "at": push.at.isoformat(),
        },
        separators=(",", ":"),
    )


def _parse(raw: str | bytes) -> LoggedPush:
    item = json.loads(raw)
    return LoggedPush(
        seq=item["seq"],
        channel=item["channel"],
        account=item["account"],
        event=item["event"],
        data=item["data"],
        at=datetime.fromisoformat(item["at"]),
    )


class RedisStreamLog:
    def __init__(self, client: Any) -> None:
        self.client = client

    def append(self, pushes_by_user: dict[str, list[dict[str, Any]]]) -> dict[str, list[int]]:
        users = list(pushes_by_user)
        pipe = self.client.pipeline(transaction=False)
        for user_id in users:
            pipe.incrby(_SEQ_KEY.format(user_id=user_id), len(pushes_by_user[user_id]))
        ends = pipe.execute()
        now = timezone.now()
        keep = settings.OMS_STREAM_RETENTION_MAX
        seqs: dict[str, list[int]] = {}
        pipe = self.client.pipeline(transaction=False)
        for user_id, end in zip(users, ends, strict=True):
            pushes = pushes_by_user[user_id]
            numbers = list(range(end - len(pushes) + 1, end + 1))
            seqs[user_id] = numbers
            log_key = _LOG_KEY.format(user_id=user_id)
            pipe.zadd(
                log_key,
                {
                    _entry(LoggedPush(seq=n, at=now, **p)): n
                    for n, p in zip(numbers, pushes, strict=True)
                },
            )
            pipe.zremrangebyrank(log_key, 0, -keep - 1)
            pipe.expire(log_key, int(retention().total_seconds()) + 1)
        pipe.execute()
        return seqs

    def read(self, user_id: str, *, after: int) -> tuple[int, list[LoggedPush]]:
        pipe = self.client.pipeline(transaction=False)
        pipe.get(_SEQ_KEY.format(user_id=user_id))
        pipe.zrangebyscore(_LOG_KEY.format(user_id=user_id), f"({after}", "+inf")
        last, raw = pipe.execute()
        return int(last or 0), [_parse(item) for item in raw]


class CacheStreamLog:
    """The same in Django's cache (the in-memory layer's companion: one process)."""

    _guard = threading.Lock()

    def append(self, pushes_by_user: dict[str, list[dict[str, Any]]]) -> dict[str, list[int]]:
        now = timezone.now()
        keep = settings.OMS_STREAM_RETENTION_MAX
        seqs: dict[str, list[int]] = {}
        with self._guard:
            for user_id, pushes in pushes_by_user.items():
                end = cache.get(_SEQ_KEY.format(user_id=user_id), 0) + len(pushes)
                cache.set(_SEQ_KEY.format(user_id=user_id), end, timeout=None)
                numbers = list(range(end - len(pushes) + 1, end + 1))
                seqs[user_id] = numbers
                log_key = _LOG_KEY.format(user_id=user_id)
                log = cache.get(log_key, []) + [
                    _entry(LoggedPush(seq=n, at=now, **p))
                    for n, p in zip(numbers, pushes, strict=True)
                ]
                cache.set(log_key, log[-keep:], timeout=int(retention().total_seconds()) + 1)
        return seqs

    def read(self, user_id: str, *, after: int) -> tuple[int, list[LoggedPush]]:
        with self._guard:
            last = cache.get(_SEQ_KEY.format(user_id=user_id), 0)
            raw = cache.get(_LOG_KEY.format(user_id=user_id), [])
        return last, [push for push in map(_parse, raw) if push.seq > after]


def stream_log() -> RedisStreamLog | CacheStreamLog:
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        return RedisStreamLog(backend._cache.get_client(write=True))
    return CacheStreamLog()
