"""Shard plumbing: stable shard of a symbol, one worker per shard in the run command,
re-sending lost commands, the paper tick query."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from execution.exchange.shard import shard_of
from execution.exchange.worker import consumed_shards


def test_shard_of_is_stable_and_within_range(settings):
    settings.OMS_EXCHANGE_SHARDS = 4
    # crc32 is stable across processes (hash() is salted per process)
    assert shard_of("ACME") == shard_of("ACME")
    assert {shard_of(s) for s in ("ACME", "FOO", "BAR", "BAZ", "QUX", "INFY", "TCS")} <= {
        0,
        1,
        2,
        3,
    }
    import zlib

    assert shard_of("INFY") == zlib.crc32(b"INFY") % 4


def test_run_command_starts_one_solo_worker_per_shard():
    from oms_site.run_registry import registered_processes

    specs = [
        s
        for s in registered_processes({"OMS_EXCHANGE_SHARDS": "3"})
        if s.name.startswith("exchange-shard")
    ]
    assert [s.name for s in specs] == ["exchange-shard0", "exchange-shard1", "exchange-shard2"]
    argv = specs[1].argv
    assert argv[argv.index("-Q") + 1] == "exchange.shard.1"
    assert argv[argv.index("--concurrency") + 1] == "1"
    assert argv[argv.index("--pool") + 1] == "solo"


def test_worker_finds_the_shard_queues_it_consumes():
    assert consumed_shards(
        ["execution", "exchange.shard.2", "exchange.shard.0", "exchange.shard.x"]
    ) == [0, 2]


@pytest.mark.django_db
def test_pending_commands_are_resent(acme, monkeypatch):
    from execution.exchange import maintenance
    from execution.models import VenueCommand
    from execution.tasks import exchange_command

    sent = []
    monkeypatch.setattr(
        exchange_command, "apply_async", lambda args, queue: sent.append((args, queue))
    )
    old = VenueCommand.objects.create(
        id="c-old", shard=0, symbol="ACME", kind="cancel", order_id="o1"
    )
    VenueCommand.objects.filter(pk="c-old").update(created_at=timezone.now() - timedelta(minutes=5))
    VenueCommand.objects.create(id="c-new", shard=0, symbol="ACME", kind="cancel", order_id="o2")
    VenueCommand.objects.create(
        id="c-done",
        shard=0,
        symbol="ACME",
        kind="cancel",
        order_id="o3",
        status="done",
        created_at=timezone.now() - timedelta(hours=1),
    )
    assert maintenance.pending_commands_resend() == 1
    assert sent == [([old.id], "exchange.shard.0")]


@pytest.mark.django_db
def test_paper_tick_finds_crossed_orders_by_a_price_range_query(acme, tick, only_paper_listener):
    from execution.adapters.paper import PaperBroker
    from marketdata.listeners import AppliedTick

    tick("ACME", last="100", bid="99.95", ask="100.00")
    applied = AppliedTick(symbol="ACME", last=100, bid=None, ask=None, volume=0, ts=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        PaperBroker().on_tick(applied)
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    # one range query per side, bounded by the price, never a scan of every order
    assert len(selects) == 2
    assert all(re.search(r"limit_price\W* (>=|<=)", sql) for sql in selects)


@pytest.mark.django_db
def test_a_refused_command_is_retried_on_its_shard_queue(acme, monkeypatch):
    from celery.exceptions import Retry

    from execution.exchange.shard import ShardLeaseHeld
    from execution.models import ShardLease, VenueCommand
    from execution.tasks import exchange_command

    # given another live process holds shard 0
    ShardLease.objects.create(
        shard=0, owner="elsewhere:1", fencing_token=3, epoch="e", heartbeat_at=timezone.now()
    )
    VenueCommand.objects.create(id="c1", shard=0, symbol="ACME", kind="cancel", order_id="o1")
    retried = {}

    def fake_retry(**options):
        retried.update(options)
        return Retry("retry", options.get("exc"))

    # when a worker that is not the holder gets the command (not inline)
    monkeypatch.setattr(exchange_command, "retry", fake_retry)
    exchange_command.push_request(is_eager=False)
    try:
        with pytest.raises(Retry):
            exchange_command.run("c1")
    finally:
        exchange_command.pop_request()
    # then it is retried later on the shard's own queue, untouched meanwhile
    assert retried["queue"] == "exchange.shard.0"
    assert isinstance(retried["exc"], ShardLeaseHeld)
    assert VenueCommand.objects.get(pk="c1").status == "pending"
    # and inline (eager) the refusal is raised instead of retrying forever
    with pytest.raises(ShardLeaseHeld):
        exchange_command.apply(args=["c1"], throw=True)
