"""The ONE publish function every app uses for live events, and how pushes are batched.

Publishing:
    publish(channel="orders", event="order.updated", data=OrderSerializer(order).data,
            account_id=order.account_id)
        → delivered after the surrounding transaction commits (immediately when there is
          none); nothing is sent if it rolls back.
    publish_now(channel="quotes:ACME", event="quote", data={...})   # hot paths, no transaction
    batch = publish_batch(); batch.add(channel=..., ...)              # many pushes, one send
    await apublish(...)                                               # from async code

Channels: account-scoped kinds (`orders`, `positions`, `fills`, `accounts`, `gtt`) need
`account_id`; `notifications` needs `user_id` (use `notify`, not publish, for those);
market channels are `quotes:<SYMBOL>` / `book:<SYMBOL>` without ids.
A live push is best effort: the database is the truth and clients re-read it over REST
after a reconnect, so a channel-layer failure is logged, never raised into the caller.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import transaction

from notifications.channel_layer import group_send_many
from notifications.push_loop import push_loop
from notifications.selectors import (
    account_stream_audience,
)
from notifications.stream import (
    MARKET_KINDS,
    json_safe,
    publish_route,
)
from notifications.stream_log import stream_log

logger = logging.getLogger(__name__)

STREAM_MESSAGE_TYPE = "stream.event"  # handled by StreamConsumer.stream_event

Envelope = tuple[str, dict[str, Any]]


def build_envelopes(
    *,
    channel: str,
    event: str,
    data: Mapping[str, Any],
    account_id: object = None,
    user_id: object = None,
) -> list[Envelope]:
    """(group, channel-layer message) pairs for one event; validates and JSON-converts."""
    if not isinstance(event, str) or not event or len(event) > 64:
        raise ValueError(f"Invalid stream event name {event!r}.")
    if not isinstance(data, Mapping):
        raise TypeError("Stream event data must be a mapping (a REST object).")
    route = publish_route(channel=channel, account_id=account_id, user_id=user_id)
    message: dict[str, Any] = {
        "type": STREAM_MESSAGE_TYPE,
        "kind": route.kind,
        "event": event,
        "data": json_safe(data),
        "account_id": route.account_id,
        "user_id": route.user_id,
        "symbol": route.symbol,
    }
    if route.kind not in MARKET_KINDS:
        # user id → seq, filled in at delivery (`_number`); the copies below share it.
        message["seqs"] = {}
    # `via` tells the consumer which of its groups a copy came through, so a client that is
    # in two groups carrying the same event (admin: `all.orders` and `acct.X.orders`) gets
    # each subscribed channel exactly once.
    return [(group, {**message, "via": group}) for group in route.groups]


async def _send_all(envelopes: list[Envelope]) -> None:
    await group_send_many(get_channel_layer(), envelopes)


def _run_on_layer_loop(coroutine_fn: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run a channel-layer coroutine from sync code: on the process's push loop for a
    network layer (its connection pools stay bound to that one loop), via async_to_sync
    for the in-process layer (tests without Redis), whose queues belong to callers' loops."""
    if isinstance(get_channel_layer(), InMemoryChannelLayer):
        return async_to_sync(_awaited)(coroutine_fn)
    return push_loop.run(coroutine_fn())


async def _awaited(coroutine_fn: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return await coroutine_fn()


def channel_layer_flush() -> None:
    """Empty the channel layer (test set-up, maintenance)."""
    _run_on_layer_loop(lambda: get_channel_layer().flush())


class _AudienceCache:
    """account id → the users who may see its events, reused by this process for
    OMS_STREAM_RECIPIENTS_CACHE_SECS: a burst of pushes reads it once, not per push. (Who
    may see an account is re-checked when the log is read, so a stale entry never shows a
    push to someone who lost access.)"""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, frozenset[str]]] = {}
        self._guard = threading.Lock()

    def get_many(self, account_ids: list[str]) -> dict[str, frozenset[str]]:
        now = time.monotonic()
        ttl = settings.OMS_STREAM_RECIPIENTS_CACHE_SECS
        out: dict[str, frozenset[str]] = {}
        with self._guard:
            for account_id in account_ids:
                entry = self._entries.get(account_id)
                if entry is not None and now - entry[0] < ttl:
                    out[account_id] = entry[1]
        missing = [account_id for account_id in account_ids if account_id not in out]
        if missing:
            fresh = {
                account_id: frozenset(users)
                for account_id, users in account_stream_audience(account_ids=missing).items()
            }
            with self._guard:
                self._entries.update(
                    (account_id, (now, users)) for account_id, users in fresh.items()
                )
            out.update(fresh)
        return out

    def clear(self) -> None:
        with self._guard:
            self._entries.clear()


stream_audience = _AudienceCache()


def _number(envelopes: list[Envelope]) -> None:
    """Give each account and notification push its seq for every user it is for and keep
    it in their log (notifications/stream_log.py); a burst costs two Redis round trips."""
    events: dict[int, dict[str, Any]] = {}
    for _, message in envelopes:
        seqs = message.get("seqs")
        if seqs is not None and not seqs:
            events.setdefault(id(seqs), message)  # one event's copies share its mapping
    if not events:
        return
    account_ids = list({m["account_id"] for m in events.values() if m["account_id"]})
    audience = stream_audience.get_many(account_ids) if account_ids else {}
    pushes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    numbered: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in events.values():
        account_id = message["account_id"]
        users = audience.get(account_id, ()) if account_id else (message["user_id"],)
        push = {
            "channel": message["kind"],
            "account": account_id,
            "event": message["event"],
            "data": message["data"],
        }
        for user_id in users:
            pushes[user_id].append(push)
            numbered[user_id].append(message)
    if not pushes:
        return
    for user_id, seqs in stream_log().append(dict(pushes)).items():
        for message, seq in zip(numbered[user_id], seqs, strict=True):
            message["seqs"][user_id] = seq


# Inside `pushes_sent_together()`: the pushes delivered meanwhile, waiting to go in one.
_collected: ContextVar[list[Envelope] | None] = ContextVar("oms_collected_pushes", default=None)


@contextmanager
def pushes_sent_together() -> Iterator[None]:
    """Around a transaction AND its commit: every push delivered meanwhile — the
    transaction's batches on commit, its commit hooks' pushes (positions), anything sent
    at once — is numbered and sent in ONE round trip when the block ends, in order."""
    collected: list[Envelope] = []
    token = _collected.set(collected)
    try:
        yield
    finally:
        _collected.reset(token)
        if collected:
            _deliver(collected)


def _deliver(envelopes: list[Envelope]) -> None:
    collected = _collected.get()
    if collected is not None:
        collected.extend(envelopes)
        return
    try:
        _number(envelopes)
    except Exception:  # best effort like the push itself: sent unnumbered; reported
        logger.exception("Numbering live pushes failed")
    try:
        _run_on_layer_loop(partial(_send_all, envelopes))
    except Exception:  # best-effort push: the DB is the truth; reported, not raised
        logger.exception("Live push to %s failed", [group for group, _ in envelopes])


def _refuse_event_loop(name: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(f"{name}() called from async code; use `await apublish(...)`.")


def publish(
    *,
    channel: str,
    event: str,
    data: Mapping[str, Any],
    account_id: object = None,
    user_id: object = None,
) -> None:
    """Push `{"channel", "event", "data"}` to everyone allowed, once the transaction commits.

    Validates and converts `data` now (Decimal → "10.5", datetime → ISO UTC, UUID → str), so
    a bad call fails loudly in the caller; ValueError for an unknown channel or missing id.
    """
    _refuse_event_loop("publish")
    shared = _shared_batch.get()
    if shared is not None and shared.open():
        shared.add(channel=channel, event=event, data=data, account_id=account_id, user_id=user_id)
        return
    envelopes = build_envelopes(
        channel=channel, event=event, data=data, account_id=account_id, user_id=user_id
    )
    transaction.on_commit(partial(_deliver, envelopes))


class PublishBatch:
    """Pushes gathered while a transaction runs and delivered together on commit, in the
    order added, in one channel-layer round trip (a burst of execution reports pushes
    hundreds). Created inside the transaction: its delivery is registered with on_commit
    then, so it is dropped with that transaction (or savepoint) if it rolls back, and it
    goes out where it was created among the transaction's other pushes."""

    def __init__(self) -> None:
        _refuse_event_loop("publish_batch")
        self._envelopes: list[Envelope] = []
        self._sent = False
        # Outside a transaction there is nothing to wait for: each add() is sent at once
        # (on_commit would run the delivery now, before anything was added).
        self._immediate = not transaction.get_connection().in_atomic_block
        if not self._immediate:
            transaction.on_commit(self._deliver)

    def add(
        self,
        *,
        channel: str,
        event: str,
        data: Mapping[str, Any],
        account_id: object = None,
        user_id: object = None,
    ) -> None:
        """As `publish` (validated and converted now), delivered with the batch."""
        envelopes = build_envelopes(
            channel=channel, event=event, data=data, account_id=account_id, user_id=user_id
        )
        if self._immediate:
            _deliver(envelopes)
        else:
            self._envelopes.extend(envelopes)

    def open(self) -> bool:
        """Still gathering: its transaction has not ended yet."""
        return not self._immediate and not self._sent

    def _deliver(self) -> None:
        self._sent = True
        if self._envelopes:
            _deliver(self._envelopes)


_shared_batch: ContextVar[PublishBatch | None] = ContextVar("oms_shared_batch", default=None)
# What a burst reads once (an account's recipients, their preferences): cleared with it.
_burst_reads: ContextVar[dict[Any, Any] | None] = ContextVar("oms_burst_reads", default=None)


def read_once(key: Any, read: Callable[[], Any]) -> Any:
    memo = _burst_reads.get()
    if memo is None:
        return read()
    if key not in memo:
        memo[key] = read()
    return memo[key]


def publish_batch() -> PublishBatch:
    """A batch for this transaction's pushes — the one `publishing_together` opened, if any."""
    shared = _shared_batch.get()
    if shared is not None and shared.open():
        return shared
    return PublishBatch()


@contextmanager
def publishing_together() -> Iterator[PublishBatch]:
    """Inside a transaction: every push made in the block (publish, publish_batch, the
    in-app notifications') joins ONE batch, numbered and sent in one round trip on commit —
    a burst of orders' hundreds of pushes costs what one costs — and each account's
    recipients and their preferences are read once for the block (a burst is a moment)."""
    batch = PublishBatch()
    token = _shared_batch.set(batch)
    reads = {_FLUSHES: []}
    reads_token = _burst_reads.set(reads)
    try:
        yield batch
        for key, flush in reads[_FLUSHES]:
            flush(reads[key])
    finally:
        _burst_reads.reset(reads_token)
        _shared_batch.reset(token)


_FLUSHES = object()  # the burst's end-of-block writes, in the memo under this key


def burst_collect(key: str, flush: Callable[[list[Any]], None]) -> list[Any] | None:
    """Inside `publishing_together()`: the block's list under `key`, made on first use with
    `flush(list)` registered to run at the block's end (still inside its transaction), so
    a write done for each order of a burst is done once for all; None outside one."""
    memo = _burst_reads.get()
    if memo is None:
        return None
    if key not in memo:
        memo[key] = []
        memo[_FLUSHES].append((key, flush))
    return memo[key]


def publish_now(
    *,
    channel: str,
    event: str,
    data: Mapping[str, Any],
    account_id: object = None,
    user_id: object = None,
) -> None:
    """Same as publish, sent right away (ticks and other paths outside a transaction)."""
    _refuse_event_loop("publish_now")
    _deliver(
        build_envelopes(
            channel=channel, event=event, data=data, account_id=account_id, user_id=user_id
        )
    )


async def apublish(
    *,
    channel: str,
    event: str,
    data: Mapping[str, Any],
    account_id: object = None,
    user_id: object = None,
) -> None:
    """publish_now for async code (feeds running in an event loop)."""
    envelopes = build_envelopes(
        channel=channel, event=event, data=data, account_id=account_id, user_id=user_id
    )
    try:
        await database_sync_to_async(_number)(envelopes)
        await _send_all(envelopes)
    except Exception:  # best-effort push: the DB is the truth; reported, not raised
        logger.exception("Live push to %s failed", [group for group, _ in envelopes])
