"""The single writer of one exchange shard: its lease, its in-memory books, its commands.

Shards. A symbol belongs to shard `zlib.crc32(symbol) % OMS_EXCHANGE_SHARDS`; each shard is
the Celery queue `exchange.shard.<n>`, consumed by one worker with concurrency 1 (pool solo).

Single writer. A `ShardState` may touch its books only while it holds the shard's
`ShardLease` row: taken under a row lock when free, when its holder stopped heart-beating
for `OMS_EXCHANGE_LEASE_TTL_S`, or at once when the holder is provably gone (a process of
this host whose pid no longer exists: a restarted worker after a crash); every take bumps
`fencing_token` and draws a new `epoch`.
Every command transaction locks the lease row again and checks owner + token + epoch before
touching anything, so a paused or partitioned former holder can never commit, and a second
worker started for the same shard (any configuration) refuses commands while the lease is
held — `ShardLeaseHeld`, the task is retried later and is then processed by the holder.

Books. Rebuilt from the open exchange `VenueOrder`s of the shard's symbols, loaded per symbol
in persisted `seq` order (= the original time priority), when the lease is taken and lazily
before the first command. If anything fails inside a command's transaction, the in-memory
books are dropped (they may be ahead of the rolled-back rows) and rebuilt next time.

Idempotency. A command row is marked done in the same transaction as its effects; a
re-delivered task finds it done and returns without touching the book (never fills twice).

In tests (Celery eager) the same code runs in the test process: the module-level state of
the process takes the lease like a worker would.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
import zlib
from datetime import timedelta

import psutil
from django.db import transaction
from django.utils import timezone

from execution import conf
from execution.exchange.commands import CommandApplier, CommandOutcome
from execution.exchange.depth import MAX_DEPTH, depth_payload, depth_publish, depth_snapshot_store
from execution.matching import MatchingEngine, Order
from execution.models import (
    CommandStatus,
    ShardLease,
    Venue,
    VenueCommand,
    VenueOrder,
    VenueOrderStatus,
)
from execution.registry import emit_reports
from oms_site.locks import lock_one, lock_one_or_none
from oms_site.task_enqueue import enqueue_after_commit, task_named

logger = logging.getLogger(__name__)


class ShardLeaseHeld(Exception):
    """Another process holds this shard's lease: this one must not process its commands."""

    def __init__(self, message: str, *, shard: int) -> None:
        super().__init__(message)
        self.shard = shard


def shard_of(symbol: str) -> int:
    """Stable across processes and restarts (unlike hash())."""
    return zlib.crc32(symbol.encode("utf-8")) % conf.exchange_shards()


def shard_queue(shard: int) -> str:
    return f"exchange.shard.{shard}"


def process_owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_provably_gone(owner: str) -> bool:
    """Whether the lease owner `owner` (`<host>:<pid>:<nonce>`, see ShardState) is a process
    of THIS host that no longer exists (or is a zombie): a restarted shard worker takes over
    from its crashed predecessor at once instead of waiting out the lease TTL.

    Anything else — another host, an unparsable owner, a live pid (even one reused by an
    unrelated process) — is not proof, and the fencing rules stand: wait for the TTL."""
    host, _, rest = owner.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid() or pid <= 0:
        return False
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False  # e.g. access denied: it exists


class ShardState:
    """One process's claim on one shard: lease credentials and the books."""

    def __init__(self, shard: int, *, owner: str | None = None) -> None:
        self.shard = shard
        self.owner = owner or f"{process_owner_id()}:{uuid.uuid4().hex[:8]}"
        self.token: int | None = None
        self.epoch: str | None = None
        self.engine: MatchingEngine | None = None
        self.offsets: dict[str, int] = {}
        self.lock = threading.RLock()

    # ------------------------------------------------------------------ lease

    @property
    def holds_lease(self) -> bool:
        return self.token is not None

    def acquire(self) -> bool:
        """Take the lease if it is free, expired, or already ours; False if someone else's."""
        ttl = timedelta(seconds=conf.lease_ttl_s())
        with self.lock:
            ShardLease.objects.get_or_create(shard=self.shard)
            with transaction.atomic():
                lease = lock_one(ShardLease.objects.all(), pk=self.shard)
                now = timezone.now()
                if self._is_mine(lease):
                    lease.heartbeat_at = now
                    lease.save(update_fields=["heartbeat_at"])
                    return True
                alive = lease.heartbeat_at is not None and lease.heartbeat_at > now - ttl
                if lease.owner and lease.owner != self.owner and alive:
                    if not holder_provably_gone(lease.owner):
                        self._forget()
                        return False
                    logger.warning(
                        "shard %s: taking over at once from %s: same host, its process is gone",
                        self.shard,
                        lease.owner,
                    )
                lease.owner = self.owner
                lease.fencing_token += 1
                lease.epoch = uuid.uuid4().hex
                lease.heartbeat_at = now
                lease.acquired_at = now
                lease.save()
                self._forget()
                self.token, self.epoch = lease.fencing_token, lease.epoch
                logger.info(
                    "shard %s: lease taken by %s (token %s)", self.shard, self.owner, self.token
                )
                return True

    def heartbeat(self) -> bool:
        """Refresh the lease; False (and books dropped) if it is no longer ours."""
        with self.lock:
            if self.token is None:
                return False
            alive = ShardLease.objects.filter(
                shard=self.shard, owner=self.owner, fencing_token=self.token, epoch=self.epoch
            ).update(heartbeat_at=timezone.now())
            if not alive:
                logger.warning("shard %s: lease lost by %s", self.shard, self.owner)
                self._forget()
            return bool(alive)

    def release(self) -> None:
        with self.lock:
            if self.token is not None:
                ShardLease.objects.filter(
                    shard=self.shard, owner=self.owner, fencing_token=self.token, epoch=self.epoch
                ).update(owner="", heartbeat_at=None)
            self._forget()

    def _is_mine(self, lease: ShardLease) -> bool:
        return (
            self.token is not None
            and lease.owner == self.owner
            and lease.fencing_token == self.token
            and lease.epoch == self.epoch
        )

    def _forget(self) -> None:
        self.token = self.epoch = None
        self.engine = None
        self.offsets = {}

    # ------------------------------------------------------------------ books

    def rebuild(self) -> None:
        """Load the shard's open orders into a fresh engine, per symbol in priority order."""
        with self.lock:
            engine = MatchingEngine()
            offsets: dict[str, int] = {}
            open_rows = VenueOrder.objects.filter(
                venue=Venue.EXCHANGE, status=VenueOrderStatus.OPEN
            )
            symbols = sorted(
                s
                for s in open_rows.order_by().values_list("symbol", flat=True).distinct()
                if shard_of(s) == self.shard
            )
            for symbol in symbols:
                rows = open_rows.filter(symbol=symbol).order_by("seq", "created_at", "order_id")
                for row in rows:
                    order = Order(
                        order_id=row.order_id,
                        owner=row.account_id,
                        side=row.side,
                        type="limit",
                        tif=row.tif,
                        qty=row.qty,
                        price=row.limit_price,
                        display_qty=row.display_qty,
                    )
                    visible = row.visible_qty if row.display_qty is not None else None
                    engine.load_resting(symbol, order, row.filled_qty, visible)
                    offsets[symbol] = max(offsets.get(symbol, 0), row.seq)
            self.engine = engine
            self.offsets = offsets
            logger.info("shard %s: rebuilt %s book(s)", self.shard, len(symbols))

    def depth(self, symbol: str, levels: int = MAX_DEPTH) -> dict:
        assert self.engine is not None
        book = self.engine.get_book(symbol)
        bids, asks = book.depth(levels) if book is not None else ([], [])
        return depth_payload(symbol=symbol, bids=bids, asks=asks, ts=timezone.now())

    def publish_all_depth(self) -> None:
        if self.engine is None:
            return
        for symbol in self.engine.symbols:
            depth_snapshot_store(symbol=symbol, payload=self.depth(symbol))

    # ------------------------------------------------------------------ commands

    def process(self, command_id: str) -> str:
        """Process one command exactly once; raises ShardLeaseHeld when not the writer."""
        with self.lock:
            for attempt in range(2):
                if self.token is None and not self.acquire():
                    raise ShardLeaseHeld(
                        f"shard {self.shard} is held by another process", shard=self.shard
                    )
                if self.engine is None:
                    self.rebuild()
                try:
                    return self._process_locked(command_id)
                except _FenceLost:
                    # Our lease vanished (taken over, or its row is gone): start over once, as
                    # a newcomer; acquire() refuses if a live holder has it now.
                    self._forget()
                    if attempt:
                        raise ShardLeaseHeld(
                            f"shard {self.shard}: lease lost", shard=self.shard
                        ) from None
                except Exception:
                    self.engine = None  # the books may be ahead of the rolled-back rows
                    raise
            raise AssertionError("unreachable")  # pragma: no cover

    def _process_locked(self, command_id: str) -> str:
        ttl = conf.lease_ttl_s()
        with transaction.atomic():
            lease = lock_one_or_none(ShardLease.objects.all(), pk=self.shard)
            if lease is None or not self._is_mine(lease):
                raise _FenceLost
            now = timezone.now()
            if lease.heartbeat_at is None or now - lease.heartbeat_at > timedelta(seconds=ttl / 3):
                lease.heartbeat_at = now
                lease.save(update_fields=["heartbeat_at"])
            command = lock_one_or_none(VenueCommand.objects.all(), pk=command_id)
            if command is None:
                return "missing"
            if command.status == CommandStatus.DONE:
                return "duplicate"
            if command.shard != self.shard:
                raise ValueError(f"command {command_id} belongs to shard {command.shard}")
            assert self.engine is not None
            outcome = CommandApplier(
                engine=self.engine, offsets=self.offsets, command=command, now=now
            ).apply()
            command.status = CommandStatus.DONE
            command.processed_at = now
            command.fencing_token = self.token
            command.result = outcome.result[:200]
            command.save(update_fields=["status", "processed_at", "fencing_token", "result"])
            if outcome.reports:
                from execution.records import reports_store

                reports_store(venue=Venue.EXCHANGE, reports=outcome.reports)
                emit_reports(outcome.reports)  # the sink (orders) applies them in this transaction
            if outcome.book_changed:
                self._after_commit(outcome)
            return outcome.result

    def _after_commit(self, outcome: CommandOutcome) -> None:
        symbol = outcome.symbol
        payload = self.depth(symbol)
        book = self.engine.get_book(symbol) if self.engine is not None else None
        bid = book.best_bid() if book is not None else None
        ask = book.best_ask() if book is not None else None
        ticks = [
            {
                "symbol": symbol,
                "last": trade.price,
                "bid": bid,
                "ask": ask,
                "volume": trade.qty,
            }
            for trade in outcome.trades
        ]

        def publish() -> None:
            depth_snapshot_store(symbol=symbol, payload=payload)
            depth_publish(symbol=symbol, payload=payload)
            if ticks:
                _ingest_trade_ticks(ticks)

        transaction.on_commit(publish)


class _FenceLost(Exception):
    pass


def _ingest_trade_ticks(ticks: list[dict]) -> None:
    """Each trade moves the instrument's last price through the normal tick path."""
    from marketdata.services import ticks_ingest

    try:
        ticks_ingest(ticks=ticks, source="exchange")
    except Exception:
        # logged and corrected by the next trade, it must not fail the command.
        logger.exception("last-price update for %s failed", ticks[0]["symbol"])


# ----------------------------------------------------------------------------- registry

_states: dict[int, ShardState] = {}
_states_pid = os.getpid()
_states_lock = threading.Lock()


def shard_state(shard: int) -> ShardState:
    """This process's state for `shard` (a fork starts with none: it is another process)."""
    global _states_pid
    with _states_lock:
        if os.getpid() != _states_pid:
            _states.clear()
            _states_pid = os.getpid()
        state = _states.get(shard)
        if state is None:
            state = _states[shard] = ShardState(shard)
        return state


def shard_states() -> list[ShardState]:
    with _states_lock:
        return list(_states.values())


def shard_states_reset() -> None:
    """Forget this process's shard states (tests; a worker shutting down releases first)."""
    with _states_lock:
        _states.clear()


def exchange_command_process(*, command_id: str) -> str:
    """What the shard task runs: route the command to this process's state of its shard."""
    shard = VenueCommand.objects.filter(pk=command_id).values_list("shard", flat=True).first()
    if shard is None:
        return "missing"
    return shard_state(shard).process(command_id)


def command_enqueue(*, command: VenueCommand) -> None:
    """Send the command to its shard's queue once the surrounding transaction commits."""
    exchange_command = task_named("execution.exchange_command")
    command_id, queue = command.id, shard_queue(command.shard)
    enqueue_after_commit(
        lambda: exchange_command.apply_async(args=[command_id], queue=queue),
        what=f"exchange command {command_id}",
        recovery="the pending command resend job sends it",
    )


@transaction.atomic
def command_create(
    *, kind: str, order_id: str, symbol: str, payload: dict | None = None
) -> VenueCommand:
    """Persist a command for the symbol's shard and enqueue it on commit."""
    command = VenueCommand.objects.create(
        id=uuid.uuid4().hex,
        shard=shard_of(symbol),
        symbol=symbol,
        kind=kind,
        order_id=order_id,
        payload=payload or {},
    )
    command_enqueue(command=command)
    return command
