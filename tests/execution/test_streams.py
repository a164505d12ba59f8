"""The stream runner (`run_broker_streams`): a thread per real-broker account running the
adapter's stream_run, restarted with backoff when it fails (the account marked meanwhile),
reconciliation told on every (re)start, new accounts picked up, gone ones stopped."""

from __future__ import annotations

import time

import pytest

from accounts import services as account_services
from accounts.models import BrokerConnection
from execution import registry
from execution.protocol import PermanentBrokerError, TransientBrokerError
from execution.streams import AccountStream, StreamRunner, broker_stream_processes, stream_accounts
from notifications.models import Notification
from tests.factories import account_with_member

CREDENTIALS = {"key_id": "PKTEST", "secret_key": "secret-value"}


def _wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def resyncs():
    seen: list[str] = []
    with registry.RESYNC_LISTENERS.overridden():
        registry.register_resync_listener("test", lambda *, account_id: seen.append(account_id))
        yield seen


def test_a_failing_stream_is_restarted_with_backoff_and_the_account_marked(
    connected_broker, resyncs
):
    # Given a stream that fails twice (a dropped connection, then a refusal) and then runs
    connected_broker.stream_errors = [TransientBrokerError("reset"), PermanentBrokerError("401")]
    marks: list[tuple[str, str]] = []
    stream = AccountStream(
        account_id="acc-1",
        adapter=connected_broker,
        backoff_base_s=0.01,
        backoff_max_s=0.2,
        healthy_after_s=0.05,
        mark=lambda account_id, state, detail: marks.append((state, detail)),
    )
    # When the stream runs
    stream.start()
    try:
        assert connected_broker.streaming.wait(5)
        assert _wait_for(lambda: marks and marks[-1][0] == "connected")
    finally:
        stream.stop()
        stream.thread.join(5)
    # Then it ran three times, was marked disconnected, error, then connected once healthy
    assert connected_broker.stream_calls == 3
    assert [state for state, _ in marks] == ["disconnected", "error", "connected"]
    assert "reconnecting in" in marks[0][1]
    # and reconciliation was told at every (re)start
    assert resyncs == ["acc-1", "acc-1", "acc-1"]
    assert not stream.thread.is_alive()


def test_a_refusal_waits_the_longest_backoff(connected_broker):
    # Given a stream refused for good (wrong key), then running
    connected_broker.stream_errors = [PermanentBrokerError("401")]
    marks = []
    stream = AccountStream(
        account_id="a",
        adapter=connected_broker,
        backoff_base_s=0.01,
        backoff_max_s=0.3,
        mark=lambda *args: marks.append(args),
    )
    started = time.monotonic()
    # When it runs until it streams again
    stream.start()
    try:
        assert connected_broker.streaming.wait(5)
    finally:
        stream.stop()
        stream.thread.join(5)
    # Then the restart waited the longest backoff, not the first step
    assert time.monotonic() - started >= 0.3
    assert marks[0][1] == "error" and "401" in marks[0][2]


def test_backoff_doubles_up_to_the_cap(connected_broker):
    stream = AccountStream(
        account_id="a", adapter=connected_broker, backoff_base_s=1, backoff_max_s=5
    )
    delays = []
    for failures in range(1, 6):
        stream.failures = failures
        delays.append(stream.backoff_s())
    assert delays == [1, 2, 4, 5, 5]


class _RecordingStream(AccountStream):
    started: list[str] = []

    def start(self) -> None:
        _RecordingStream.started.append(self.account_id)
        super().start()


def test_the_runner_picks_up_new_accounts_and_stops_gone_ones(connected_broker, resyncs):
    # Given one account to follow
    wanted = {"a1": "alpaca"}
    _RecordingStream.started = []
    runner = StreamRunner(accounts=lambda: dict(wanted), stream_factory=_RecordingStream)
    try:
        runner.sync()
        # When a second account appears and the first goes away
        wanted.pop("a1")
        wanted["a2"] = "alpaca"
        first = runner.streams["a1"]
        runner.sync()
        # Then the second is followed and the first stopped
        assert _RecordingStream.started == ["a1", "a2"]
        assert set(runner.streams) == {"a2"}
        first.thread.join(5)
        assert not first.thread.is_alive()
        # and a sync with nothing new starts nothing again
        runner.sync()
        assert _RecordingStream.started == ["a1", "a2"]
    finally:
        runner.stop_all()


@pytest.mark.django_db
def test_only_active_real_broker_accounts_are_streamed(connected_broker, trader):
    # Given a paper account, an active and a suspended Alpaca account
    account_with_member(user=trader)
    active = account_services.account_create(
        actor=trader, name="A", broker="alpaca", credentials=CREDENTIALS
    )
    suspended = account_services.account_create(
        actor=trader, name="S", broker="alpaca", credentials=CREDENTIALS
    )
    account_services.account_set_status(actor=None, account=suspended, status="suspended")
    # Then only the active Alpaca account is streamed
    assert stream_accounts() == {str(active.pk): "alpaca"}


@pytest.mark.django_db(transaction=True)
def test_a_stream_failure_marks_the_account_and_tells_its_members_once(connected_broker, trader):
    # Given an Alpaca account that was connected, and its stream drops twice in a row
    account = account_services.account_create(
        actor=trader, name="A", broker="alpaca", credentials=CREDENTIALS
    )
    BrokerConnection.objects.filter(accounts=account).update(status="connected")
    connected_broker.stream_errors = [TransientBrokerError("reset"), TransientBrokerError("reset")]
    stream = AccountStream(
        account_id=str(account.pk), adapter=connected_broker, backoff_base_s=0.01
    )
    # When the runner runs it until it streams again
    stream.start()
    try:
        assert connected_broker.streaming.wait(5)
    finally:
        stream.stop()
        stream.thread.join(5)
    # Then the account is disconnected and its owner told once (two failures, one change)
    assert BrokerConnection.objects.get(accounts=account).status == "disconnected"
    notes = Notification.objects.filter(kind="broker.status_changed", account=account)
    assert [n.data["status"] for n in notes] == ["disconnected"]


def test_make_run_starts_the_runner_only_with_a_real_broker_installed(connected_broker):
    # Given an installed real broker: the process is there, unless switched off
    assert [spec.name for spec in broker_stream_processes({})] == ["broker-streams"]
    assert broker_stream_processes({"OMS_BROKER_STREAMS": "0"}) == []


def test_make_run_with_only_internal_venues_has_no_stream_process(no_real_brokers):
    # Given only paper and exchange adapters
    # Then `make run` starts no stream runner
    assert broker_stream_processes({}) == []


@pytest.mark.django_db(transaction=True)
def test_the_command_runs_and_stops(connected_broker, trader):
    from django.core.management import call_command

    # Given an Alpaca account
    account_services.account_create(
        actor=trader, name="A", broker="alpaca", credentials=CREDENTIALS
    )
    # When the command runs for half a second
    started = time.monotonic()
    call_command("run_broker_streams", "--duration", "0.5", "--poll", "0.1")
    # Then the account's stream ran, and the command stopped by itself
    assert connected_broker.streaming.is_set()
    assert connected_broker.stream_calls == 1
    assert time.monotonic() - started < 10
