"""/healthz: one JSON answer about the database, Redis and the Celery workers."""

from __future__ import annotations

import pytest

from oms_site import health
from oms_site.celery import app as celery_app
from oms_site.embedded_redis import free_tcp_port

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_worker_answer():
    health.reset_celery_cache()
    yield
    health.reset_celery_cache()


@pytest.fixture
def workers_not_eager(monkeypatch):
    """This process queues tasks for workers instead of running them inline."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)


def test_database_up_and_tasks_inline_is_200(client, settings):
    # Given the test settings (tasks run inline, Redis as configured by the environment)
    # When /healthz is called
    response = client.get("/healthz")
    # Then it is green and names every check
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["celery"]["status"] == "eager"
    expected_redis = "ok" if settings.REDIS_URL else "not_configured"
    assert body["checks"]["redis"]["status"] == expected_redis
    assert response["Cache-Control"].startswith("max-age=0")


def test_unreachable_redis_is_503_naming_redis(client, settings):
    # Given REDIS_URL pointing at a port nobody listens on
    settings.REDIS_URL = f"redis://127.0.0.1:{free_tcp_port()}/0"
    # When /healthz is called
    response = client.get("/healthz")
    # Then it is 503 and says Redis is the one that is down
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["failing"] == ["redis"]
    assert body["checks"]["redis"]["status"] == "down"
    assert body["checks"]["redis"]["error"]
    assert body["checks"]["database"]["status"] == "ok"


def test_no_worker_is_503_naming_celery(client, monkeypatch, workers_not_eager):
    # Given tasks go to workers, and no worker is running (a real ping, short timeout)
    monkeypatch.setattr(health, "CHECK_TIMEOUT", 0.2)
    # When /healthz is called
    response = client.get("/healthz")
    # Then it is 503 naming Celery, with an empty worker list
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["celery"]
    assert body["checks"]["celery"]["status"] == "down"
    assert body["checks"]["celery"]["workers"] == []


def test_a_worker_answer_is_reused_for_a_few_seconds(client, monkeypatch, workers_not_eager):
    # Given one worker answers pings
    pings = []

    def one_worker(timeout):
        pings.append(timeout)
        return ["worker@host"]

    monkeypatch.setattr(health, "ping_workers", one_worker)
    # When /healthz is called twice in a row
    first = client.get("/healthz")
    second = client.get("/healthz")
    # Then both are green with the worker named, and the workers were asked only once
    assert first.status_code == second.status_code == 200
    assert second.json()["checks"]["celery"]["workers"] == ["worker@host"]
    assert pings == [health.CHECK_TIMEOUT]
    # And once the answer is older than its TTL, they are asked again
    monkeypatch.setattr(health, "CELERY_OK_TTL", 0.0)
    client.get("/healthz")
    assert len(pings) == 2


def test_a_missing_worker_is_not_remembered(client, monkeypatch, workers_not_eager):
    # Given no worker answers at first
    answers = [[], ["worker@host"]]
    monkeypatch.setattr(health, "ping_workers", lambda timeout: answers.pop(0))
    # When /healthz is called, then called again after a worker came up
    down = client.get("/healthz")
    up = client.get("/healthz")
    # Then the first is 503 and the second already green
    assert down.status_code == 503
    assert up.status_code == 200
    assert up.json()["checks"]["celery"]["workers"] == ["worker@host"]


def test_unreachable_broker_fails_fast_without_a_ping(client, monkeypatch, workers_not_eager):
    # Given the Celery broker is a Redis nobody listens on
    monkeypatch.setitem(celery_app.conf, "broker_url", f"redis://127.0.0.1:{free_tcp_port()}/0")

    def must_not_ping(timeout):
        raise AssertionError("a ping through a dead broker would hang on reconnects")

    monkeypatch.setattr(health, "ping_workers", must_not_ping)
    # When /healthz is called
    response = client.get("/healthz")
    # Then Celery is reported down because of its broker
    assert response.status_code == 503
    celery = response.json()["checks"]["celery"]
    assert celery == {"status": "down", "error": "broker unreachable", "workers": []}


def test_a_child_waiting_for_its_restart_makes_the_stack_degraded_not_down(
    client, tmp_path, monkeypatch
):
    # Given the supervisor's status file says beat crashed and waits for its restart
    from oms_site.run_registry import ProcessSpec
    from oms_site.supervisor import Supervisor

    status_file = tmp_path / "status.json"
    supervisor = Supervisor(env={}, cwd=tmp_path, status_file=status_file)
    monkeypatch.setenv("OMS_SUPERVISOR_STATUS_FILE", supervisor.env["OMS_SUPERVISOR_STATUS_FILE"])
    (beat,) = supervisor.start([ProcessSpec(name="beat", argv=("sleep", "30"))])
    try:
        beat.process.kill()
        beat.process.wait()
        assert supervisor.check()  # the crash is seen: a restart is scheduled
        # When /healthz is called meanwhile
        response = client.get("/healthz")
        # Then it still answers 200 (this web process serves) and says degraded, naming beat
        body = response.json()
        assert response.status_code == 200
        assert body["status"] == "degraded"
        assert body["checks"]["processes"]["restarting"] == ["beat"]
    finally:
        supervisor.stop_all()
