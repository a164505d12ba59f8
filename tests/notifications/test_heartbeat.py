"""The heartbeat wheel (notifications/heartbeat.py): one timer for every stream of a loop."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts.models import ApiKey
from notifications.heartbeat import HeartbeatWheel
from notifications.ws_auth import AUTH_API_KEY
from tests.factories import ApiKeyFactory, UserFactory

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

INTERVAL = 1.0  # first beats 0.5-1.0 s in, second ones 1.5-2.0 s: room for a slow machine


class RecordedStream:
    """A stream as the wheel sees it, keeping what it was sent and told."""

    def __init__(self, *, key_id: str, user_id: object) -> None:
        self.auth = {"method": AUTH_API_KEY, "key_id": key_id}
        self.user_id = user_id
        self.frames: list[dict] = []
        self.accesses: list = []

    async def beat(self, text: str) -> None:
        self.frames.append(json.loads(text))

    def recheck_key(self):
        return self.auth, self.user_id

    async def apply_access(self, access) -> None:
        self.accesses.append(access)


def _streams(count: int) -> list[tuple[RecordedStream, object]]:
    out = []
    for _ in range(count):
        user = UserFactory()
        key = ApiKeyFactory.issue(user=user)
        out.append((RecordedStream(key_id=str(key.api_key.pk), user_id=user.pk), key.api_key))
    return out


async def test_every_stream_beats_once_an_interval_and_learns_a_revoked_key():
    # given 12 streams on one wheel, one of whose keys is revoked
    made = await database_sync_to_async(_streams)(12)
    streams = [stream for stream, _ in made]
    revoked_stream, revoked_key = made[0]
    await database_sync_to_async(ApiKey.objects.filter(pk=revoked_key.pk).update)(
        revoked_at=timezone.now()
    )
    wheel = HeartbeatWheel(INTERVAL)
    for stream in streams:
        wheel.join(stream)

    # when a little more than one interval passes
    await asyncio.sleep(INTERVAL * 1.2)

    # then each stream got exactly one heartbeat, with the interval
    assert [len(stream.frames) for stream in streams] == [1] * 12
    assert {frame["data"]["interval"] for s in streams for frame in s.frames} == {INTERVAL}
    # and its access was re-checked: the revoked one learns it has none, the others keep theirs
    for _ in range(50):  # a wait for the re-check's database call, not a speed assertion
        if all(stream.accesses for stream in streams):
            break
        await asyncio.sleep(0.1)
    assert revoked_stream.accesses[0] is None
    assert all(s.accesses and s.accesses[0] is not None for s in streams[1:])

    # and a stream that left gets nothing more
    for stream in streams:
        wheel.leave(stream)
    sent = [len(stream.frames) for stream in streams]
    await asyncio.sleep(INTERVAL * 1.2)
    assert [len(stream.frames) for stream in streams] == sent
    assert wheel.task is None  # and the wheel's timer stopped with its last stream
