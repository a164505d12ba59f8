"""What `python -m oms_site.run` starts, for a given environment, and how apps add to it."""

from __future__ import annotations

import sys

import pytest

from oms_site import run_registry
from oms_site.embedded_redis import free_tcp_port
from oms_site.run import banner, config_from_env, fetch_health, missing_workers, stack_processes
from oms_site.run_registry import (
    KIND_FEED,
    ProcessSpec,
    celery_worker,
    manage_py,
    register_process,
    unregister_process,
)


def arg_after(argv: tuple[str, ...], flag: str) -> str:
    return argv[argv.index(flag) + 1]


@pytest.fixture
def registry_snapshot():
    """An empty process registry for the test; the apps' registrations come back after."""
    with run_registry.PROCESS_FACTORIES.overridden():
        yield


def test_default_stack_is_web_worker_and_beat():
    # Given an empty environment
    specs = {spec.name: spec for spec in stack_processes({})}
    # Then the core processes are there, run by this interpreter
    assert {"web", "worker", "beat"} <= set(specs)
    web, worker, beat = specs["web"], specs["worker"], specs["beat"]
    assert web.argv[:3] == (sys.executable, "-m", "uvicorn")
    assert "oms_site.asgi:application" in web.argv
    assert arg_after(web.argv, "--host") == "127.0.0.1"
    assert arg_after(web.argv, "--port") == "8000"
    assert arg_after(web.argv, "--workers") == "1"
    # And the worker consumes every shared queue with concurrency 4
    assert arg_after(worker.argv, "-Q") == "execution,marketdata,monitoring,notifications"
    assert arg_after(worker.argv, "--concurrency") == "4"
    # And beat reads its schedule from the database
    assert arg_after(beat.argv, "-S") == "django_celery_beat.schedulers:DatabaseScheduler"


def test_environment_sets_address_and_concurrency():
    # Given HOST, PORT, WEB_CONCURRENCY and the worker concurrency in the environment
    env = {"HOST": "0.0.0.0", "PORT": "9001", "WEB_CONCURRENCY": "3", "OMS_WORKER_CONCURRENCY": "4"}
    specs = {spec.name: spec for spec in stack_processes(env)}
    # Then the web server and the worker use them
    assert arg_after(specs["web"].argv, "--host") == "0.0.0.0"
    assert arg_after(specs["web"].argv, "--port") == "9001"
    assert arg_after(specs["web"].argv, "--workers") == "3"
    assert arg_after(specs["worker"].argv, "--concurrency") == "4"
    # And the printed URL is one a browser on this machine can open
    assert "OMS is running at http://127.0.0.1:9001/" in banner(config_from_env(env))


@pytest.mark.parametrize(
    "env",
    [{"PORT": "eighty"}, {"PORT": "0"}, {"PORT": "70000"}, {"WEB_CONCURRENCY": "-1"}],
)
def test_bad_settings_stop_with_a_message(env):
    with pytest.raises(SystemExit, match="must be"):
        config_from_env(env)


def test_registered_processes_join_the_stack(registry_snapshot):
    # Given an app registering one single-threaded worker per exchange shard
    @register_process
    def shard_workers(env):
        count = int(env.get("OMS_EXCHANGE_SHARDS", "2"))
        return [
            celery_worker(name=f"shard{n}", queues=[f"exchange.shard.{n}"], concurrency=1)
            for n in range(count)
        ]

    # When the stack is built for three shards
    specs = {spec.name: spec for spec in stack_processes({"OMS_EXCHANGE_SHARDS": "3"})}
    # Then each shard has its own worker on its own queue, concurrency 1, unique node name
    for n in range(3):
        argv = specs[f"shard{n}"].argv
        assert arg_after(argv, "-Q") == f"exchange.shard.{n}"
        assert arg_after(argv, "--concurrency") == "1"
        assert arg_after(argv, "-n") == f"shard{n}@%h"
    # And registering the same factory again changes nothing
    register_process(shard_workers)
    assert len([s for s in stack_processes({}) if s.name.startswith("shard")]) == 2
    # And the same specs come back when the supervisor asks the registry
    assert [s.name for s in run_registry.registered_processes({})] == ["shard0", "shard1"]


def test_a_feed_registered_by_market_data_is_started(registry_snapshot):
    # Given market data registers its feed, chosen by OMS_FEED
    def feed(env):
        source = env.get("OMS_FEED", "simulator")
        if source == "none":
            return []
        return [manage_py("feed", "run_feed", "--source", source, kind=KIND_FEED)]

    register_process(feed)
    # Then the feed runs `manage.py run_feed` with the chosen source, or not at all
    (spec,) = [s for s in stack_processes({"OMS_FEED": "replay"}) if s.kind == KIND_FEED]
    assert spec.argv == (sys.executable, "manage.py", "run_feed", "--source", "replay")
    assert not [s for s in stack_processes({"OMS_FEED": "none"}) if s.kind == KIND_FEED]
    unregister_process(feed)
    assert not [s for s in stack_processes({}) if s.kind == KIND_FEED]


def test_a_registered_name_clash_is_refused(registry_snapshot):
    # Given an app that registers a second process named "web"
    register_process(lambda env: [ProcessSpec(name="web", argv=("true",))])
    # Then the stack cannot be built
    with pytest.raises(ValueError, match="same name: web"):
        stack_processes({})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "w", "queues": [], "concurrency": 1}, "consumes no queue"),
        ({"name": "w", "queues": ["execution"], "concurrency": 0}, "concurrency >= 1"),
        ({"name": "bad name", "queues": ["execution"], "concurrency": 1}, "alphanumeric"),
    ],
)
def test_invalid_worker_specs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        celery_worker(**kwargs)


def test_the_banner_waits_for_every_started_worker():
    # Given the stack started the shared worker and one shard worker
    expected = {"worker", "exchange-shard0"}
    # Then an answer from only one of them leaves the other missing, and both answer = ready
    assert missing_workers(["exchange-shard0@vm"], expected) == {"worker"}
    assert missing_workers(["worker@vm", "exchange-shard0@vm"], expected) == set()
    assert missing_workers([], expected) == expected


def test_health_of_a_server_that_is_not_there_is_status_zero():
    status, body = fetch_health(f"http://127.0.0.1:{free_tcp_port()}/healthz", timeout=1)
    assert status == 0
    assert "error" in body
