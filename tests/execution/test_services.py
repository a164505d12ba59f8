"""execution.services: routing by broker kind through the resilience wrapper."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from execution import registry
from execution.protocol import (
    BrokerUnavailableError,
    ExecutionReport,
    PermanentBrokerError,
    ReportType,
    TransientBrokerError,
)
from execution.services import broker_caller, broker_submit
from tests.execution.factories import order_request


class DownBroker:
    """A remote broker that is down: every call fails with a named transient error."""

    name = "downbroker"
    in_process = True

    def __init__(self) -> None:
        self.calls = 0

    def submit(self, request):
        self.calls += 1
        raise TransientBrokerError("connection reset")


class EchoBroker:
    name = "echo"

    def submit(self, request):
        return [
            ExecutionReport(
                report_id=uuid.uuid4().hex,
                order_id=request.order_id,
                type=ReportType.ACK,
                ts=timezone.now(),
            )
        ]


@pytest.fixture
def fake_brokers(settings):
    settings.OMS_BROKER_POLICIES = {
        "downbroker": {
            "max_attempts": 2,
            "failure_threshold": 4,
            "backoff_base_s": 0,
            "cooldown_s": 60,
        }
    }
    down = DownBroker()
    registry.register_adapter("downbroker", lambda: down)
    registry.register_adapter("echo", EchoBroker)
    yield down
    registry.unregister_adapter("downbroker")
    registry.unregister_adapter("echo")


def test_unknown_broker_kind_is_a_permanent_error(db):
    with pytest.raises(PermanentBrokerError, match="No broker adapter"):
        broker_submit(
            order_request(broker="nosuch", account_id="a", side="buy", qty="1", type="market")
        )


def test_a_remote_adapter_runs_under_the_timeout_thread(fake_brokers, db):
    reports = broker_submit(
        order_request(broker="echo", account_id="a", side="buy", qty="1", type="market")
    )
    assert [r.type for r in reports] == [ReportType.ACK]


def test_a_down_broker_opens_the_breaker_and_then_fails_fast(fake_brokers, db):
    down = fake_brokers
    request = order_request(broker="downbroker", account_id="a", side="buy", qty="1", type="market")
    # two calls × two attempts = four consecutive failures: the breaker opens
    for _ in range(2):
        with pytest.raises(BrokerUnavailableError):
            broker_submit(request)
    assert down.calls == 4
    assert broker_caller(broker="downbroker").breaker.state == "open"
    # the next call is refused without reaching the broker
    with pytest.raises(BrokerUnavailableError, match="circuit breaker open"):
        broker_submit(request)
    assert down.calls == 4


def test_breaker_states_selector_lists_every_broker(fake_brokers, db):
    from execution.selectors import breaker_states

    states = {s["broker"]: s["state"] for s in breaker_states()}
    assert states["paper"] == "closed"
    assert states["exchange"] == "closed"
    assert "downbroker" in states


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs Redis")
def test_redis_token_bucket_is_shared_between_instances():
    import redis

    from execution.resilience import RedisTokenBucket

    client = redis.Redis.from_url(django_settings.REDIS_URL, socket_timeout=2)
    key = f"oms:test:rl:{uuid.uuid4().hex}"
    first = RedisTokenBucket(client=client, key=key, rate_per_s=0.001, burst=2)
    second = RedisTokenBucket(client=client, key=key, rate_per_s=0.001, burst=2)
    assert first.take() == 0.0
    assert second.take() == 0.0
    assert first.take() > 0  # the shared bucket is empty for everyone
    client.delete(key)


def test_decimal_quantities_survive_report_storage(db):
    from execution.records import report_from_payload, report_to_payload

    report = ExecutionReport(
        report_id="r1",
        order_id="o1",
        type=ReportType.FILL,
        ts=timezone.now(),
        fill_qty=Decimal("1.5"),
        fill_price=Decimal("10.05"),
        fee=Decimal("0.01"),
        liquidity="taker",
        leaves_qty=Decimal("0"),
        data={"k": "v"},
    )
    assert report_from_payload(report_to_payload(report)) == report


def test_internal_venues_keep_one_breaker_per_kind_real_brokers_one_per_account(db):
    # Given the paper venue (in process) and a real broker kind (alpaca)
    # When their wrappers are asked for two accounts
    paper_a = broker_caller(broker="paper", account_id="a")
    paper_b = broker_caller(broker="paper", account_id="b")
    alpaca_a = broker_caller(broker="alpaca", account_id="a")
    alpaca_b = broker_caller(broker="alpaca", account_id="b")
    # Then paper has one wrapper (and breaker) for the kind, alpaca one per account
    assert paper_a is paper_b is broker_caller(broker="paper")
    assert paper_a.breaker.account_id is None
    assert alpaca_a is not alpaca_b
    assert (alpaca_a.breaker.account_id, alpaca_b.breaker.account_id) == ("a", "b")
    # sharing the kind's token bucket (the broker's total rate)
    assert alpaca_a.bucket is alpaca_b.bucket
    # and one account's failures leave the other's breaker closed
    for _ in range(alpaca_a.breaker.threshold):
        alpaca_a.breaker.record_failure()
    assert (alpaca_a.breaker.state, alpaca_b.breaker.state) == ("open", "closed")
    assert broker_caller(broker="alpaca").breaker.state == "closed"
