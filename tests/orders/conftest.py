"""Fixtures for orders tests: an always-open SIM instrument with a quote, accounts on the
fake broker, API clients, and on-commit callbacks (the submission) run on demand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from execution import registry as execution_registry
from execution.services import broker_callers_reset
from tests.factories import RiskLimitsFactory, UserFactory, account_with_member
from tests.marketdata.factories import ExchangeFactory, InstrumentFactory
from tests.orders.fakes import FakeBroker


@pytest.fixture(autouse=True)
def _fast_fake_broker(settings):
    # Hashing the factories' passwords with PBKDF2 costs ~1 s per user on a slow machine.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.OMS_BROKER_POLICIES = {
        "fake": {"rate_per_s": 100000, "burst": 100000, "failure_threshold": 1000}
    }
    broker_callers_reset()
    yield
    broker_callers_reset()


@pytest.fixture
def fake_broker() -> FakeBroker:
    broker = FakeBroker()
    execution_registry.register_adapter("fake", lambda: broker)
    return broker


@pytest.fixture
def sim(db):
    return ExchangeFactory()


@pytest.fixture
def acme(sim):
    return InstrumentFactory(
        symbol="ACME", exchange=sim, tick_size=Decimal("0.05"), lot_size=Decimal("1")
    )


@pytest.fixture
def lots(sim):
    """An instrument traded in lots of 50."""
    return InstrumentFactory(
        symbol="NIFTYFUT", exchange=sim, tick_size=Decimal("0.05"), lot_size=Decimal("50")
    )


@pytest.fixture
def tick():
    """Apply a tick through the one tick path (quote, listeners: triggers, paper fills)."""
    from marketdata.services import tick_ingest

    def _tick(symbol: str = "ACME", *, last: str, bid: str | None = None, ask: str | None = None):
        result = tick_ingest(symbol=symbol, last=last, bid=bid, ask=ask, volume=1, source="test")
        assert result.applied, result
        return result

    return _tick


@pytest.fixture
def quoted(acme, tick):
    """ACME last 100, bid 99.95, ask 100.05."""
    tick("ACME", last="100", bid="99.95", ask="100.05")
    return acme


@pytest.fixture
def account(trader, fake_broker):
    return account_with_member(
        user=trader, role="owner", broker="fake", cash=Decimal("1000000"), name="Main"
    )


@pytest.fixture
def limits(account):
    return RiskLimitsFactory(account=account)


@pytest.fixture
def client(make_key_client, trader):
    return make_key_client(trader)


@pytest.fixture
def other_user():
    return UserFactory(username="mallory", role="trader")


@pytest.fixture
def submit(django_capture_on_commit_callbacks):
    """Run what was deferred to commit (the submission task) — `with submit(): ...`."""

    def _submit():
        return django_capture_on_commit_callbacks(execute=True)

    return _submit


def order_body(account_, **overrides):
    body = {
        "account": str(account_.pk),
        "symbol": "ACME",
        "side": "buy",
        "type": "limit",
        "qty": "10",
        "limit_price": "100.00",
        "time_in_force": "day",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not ...}


@pytest.fixture
def paper(trader):
    """The trader's account at the paper broker (fills against the quote), short selling
    allowed so exits of positions built in a test are never blocked by it."""
    account = account_with_member(
        user=trader, role="owner", broker="paper", cash=Decimal("1000000"), name="Paper"
    )
    from accounts.models import RiskLimits

    RiskLimits.objects.update_or_create(account=account, defaults={"allow_short": True})
    return account


@pytest.fixture
def captured(monkeypatch):
    """Live pushes of orders and GTTs, as (channel, event, data) in publish order."""
    sent: list[tuple[str, str, dict]] = []

    def _publish(**kw):
        sent.append((kw["channel"], kw["event"], kw["data"]))

    monkeypatch.setattr("orders.core.publish.publish", _publish)
    monkeypatch.setattr("orders.automation.gtt.publish", _publish)
    return sent


@pytest.fixture
def delivered(monkeypatch):
    """Live pushes as the channel layer would get them on commit: the messages sent to
    account groups (`acct.<id>.<kind>`), in delivery order."""
    sent: list[dict] = []

    def _deliver(envelopes):
        sent.extend(message for group, message in envelopes if group.startswith("acct."))

    monkeypatch.setattr("notifications.publishing._deliver", _deliver)
    return sent


@pytest.fixture
def worker_drain():
    """Tasks run by a worker, not inline (the test suite runs them inline): the submission
    drainers pause and linger as they do in a worker."""
    from oms_site.celery import app as celery_app

    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = before
