"""The event loop thread that drives the Channels layer from sync code (notifications'
waiting sends, marketdata's fire-and-forget pushes and trailing flushes)."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import warnings

import pytest

from oms_site.loop_thread import LoopThread
from tests.polling import wait_for


@pytest.fixture
def make_loop():
    made: list[LoopThread] = []

    def _make(**kwargs) -> LoopThread:
        loop_thread = LoopThread(name=kwargs.pop("name", "test-loop"), **kwargs)
        made.append(loop_thread)
        return loop_thread

    yield _make
    for loop_thread in made:  # never leave a thread behind, whatever the test did
        loop_thread.stop()


async def where_am_i() -> tuple[str, asyncio.AbstractEventLoop]:
    return threading.current_thread().name, asyncio.get_running_loop()


def test_run_waits_for_the_result_on_one_loop_thread_reused_by_every_call(make_loop):
    # given a loop thread that has not run anything yet
    loop_thread = make_loop(name="oms-push-test")
    # when two coroutines run on it from this thread
    first_thread, first_loop = loop_thread.run(where_am_i())
    second_thread, second_loop = loop_thread.run(where_am_i())
    # then both ran on the same loop, on the named thread, not on the caller's
    assert first_thread == second_thread == "oms-push-test"
    assert first_loop is second_loop
    assert threading.current_thread().name != "oms-push-test"


def test_run_raises_the_coroutines_error_in_the_caller(make_loop):
    # given a loop thread and a coroutine that fails
    loop_thread = make_loop()

    async def fails() -> None:
        raise ConnectionError("redis went away")

    # when it runs, then the caller gets the error
    with pytest.raises(ConnectionError, match="redis went away"):
        loop_thread.run(fails())
    # and the loop keeps serving
    assert loop_thread.run(where_am_i())[0] == "test-loop"


def test_run_times_out_and_cancels_the_slow_coroutine(make_loop):
    # given a coroutine that takes longer than the caller will wait
    loop_thread = make_loop()
    cancelled = threading.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    # when it runs with a short timeout
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        loop_thread.run(slow(), timeout=0.1)
    # then the caller got control back at the timeout and the coroutine was cancelled
    assert time.monotonic() - started < 2
    assert cancelled.wait(2)


def test_run_on_its_own_loop_thread_refuses_instead_of_deadlocking(make_loop):
    # given a callback running on the loop thread that tries a waiting run there
    loop_thread = make_loop()
    outcome: list[BaseException] = []

    def on_loop() -> None:
        try:
            loop_thread.run(where_am_i())
        except RuntimeError as exc:
            outcome.append(exc)

    # when the callback runs
    loop_thread.call_later(0, on_loop)
    # then run() refused at once
    wait_for(lambda: outcome)
    assert "deadlock" in str(outcome[0])


def test_submit_returns_before_the_coroutine_finishes(make_loop):
    # given a coroutine that waits for a signal from this thread
    loop_thread = make_loop()
    release, done = threading.Event(), threading.Event()

    async def waits() -> None:
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 5)
        done.set()

    # when it is submitted
    loop_thread.submit(waits())
    # then submit returned while it is still running, and it completes afterwards
    assert not done.is_set()
    release.set()
    assert done.wait(5)


def test_a_failed_submitted_coroutine_is_logged(make_loop, caplog):
    # given a submitted coroutine that fails
    loop_thread = make_loop(name="quote-push-test")

    async def fails() -> None:
        raise ConnectionError("redis went away")

    with caplog.at_level(logging.ERROR, logger="oms_site.loop_thread"):
        loop_thread.submit(fails())
        # then the failure is logged with the thread's name
        wait_for(lambda: any("redis went away" in r.getMessage() for r in caplog.records))
    record = next(r for r in caplog.records if "redis went away" in r.getMessage())
    assert record.levelno == logging.ERROR and "quote-push-test" in record.getMessage()


def test_call_later_runs_the_function_on_the_loop_thread_after_the_delay(make_loop):
    # given a loop thread
    loop_thread = make_loop(name="book-push-test")
    ran: list[tuple[str, float]] = []
    # when a function is scheduled 0.1 s ahead
    scheduled_at = time.monotonic()
    loop_thread.call_later(
        0.1, lambda: ran.append((threading.current_thread().name, time.monotonic()))
    )
    # then it runs once, on the loop thread, no earlier than asked
    wait_for(lambda: ran)
    thread_name, ran_at = ran[0]
    assert thread_name == "book-push-test"
    assert ran_at - scheduled_at >= 0.09


def test_stop_lets_submitted_work_finish_then_runs_on_stop_and_ends_the_thread(make_loop):
    # given a loop thread whose on_stop records the order of events, and a slow send
    events: list[str] = []

    async def close_pools() -> None:
        events.append("closed")

    loop_thread = make_loop(on_stop=close_pools)

    async def slow_send() -> None:
        await asyncio.sleep(0.2)
        events.append("sent")

    loop_thread.submit(slow_send())
    thread = loop_thread._thread
    # when it stops
    loop_thread.stop()
    # then the send finished first, the connections were closed after, and the thread is gone
    assert events == ["sent", "closed"]
    assert thread is not None and not thread.is_alive()


def test_a_stopped_loop_thread_refuses_work_without_leaving_a_coroutine_unawaited(make_loop):
    # given a stopped loop thread
    loop_thread = make_loop()
    loop_thread.run(where_am_i())
    loop_thread.stop()
    # when work is handed to it, then it refuses, and the coroutine is closed, not leaked
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        coroutine = where_am_i()
        with pytest.raises(RuntimeError, match="stopped"):
            loop_thread.submit(coroutine)
        assert coroutine.cr_frame is None  # closed
        with pytest.raises(RuntimeError, match="stopped"):
            loop_thread.call_later(0, lambda: None)


def test_a_loop_thread_never_started_stops_without_starting(make_loop):
    # given a loop thread nobody used
    loop_thread = make_loop(name="never-used")
    # when it stops, then no thread of that name ever ran
    loop_thread.stop()
    assert all(t.name != "never-used" for t in threading.enumerate())


def test_a_forked_child_gets_its_own_loop_thread(make_loop):
    # given a loop thread running in this process
    loop_thread = make_loop(name="fork-test")
    parent_thread, parent_loop = loop_thread.run(where_am_i())
    # when the process forks and the child runs a coroutine on the same object
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only this thread came along
        code = 1
        try:
            name, child_loop = loop_thread.run(where_am_i(), timeout=5)
            alive = loop_thread._thread is not None and loop_thread._thread.is_alive()
            code = 0 if (name == "fork-test" and child_loop is not parent_loop and alive) else 2
        finally:
            os.write(write_end, bytes([code]))
            os._exit(code)
    os.close(write_end)
    deadline = time.monotonic() + 20
    while (reaped := os.waitpid(pid, os.WNOHANG)) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung")
        time.sleep(0.02)
    child_report = os.read(read_end, 1)
    os.close(read_end)
    # then the child ran it on a fresh loop thread of its own (exit code 0)
    assert child_report == b"\x00" and os.waitstatus_to_exitcode(reaped[1]) == 0
    # and the parent's loop thread is untouched
    assert loop_thread.run(where_am_i()) == (parent_thread, parent_loop)
