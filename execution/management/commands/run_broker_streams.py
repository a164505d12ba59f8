"""`python manage.py run_broker_streams` — follow every real-broker account's order-update
stream (execution/streams.py). Started by `make run` when a real broker adapter is installed;
stops cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

from django.core.management.base import BaseCommand

from execution.streams import DEFAULT_POLL_S, StreamRunner


class Command(BaseCommand):
    help = "Run the order-update streams of all accounts at real brokers (restarting them)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--poll", type=float, default=DEFAULT_POLL_S, help="Seconds between account scans."
        )
        parser.add_argument("--duration", type=float, default=None, help="Stop after N seconds.")

    def handle(self, *args: Any, **opts: Any) -> None:
        stop = threading.Event()
        previous = {
            signum: signal.signal(signum, lambda *_: stop.set())
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        if opts["duration"]:
            deadline = time.monotonic() + opts["duration"]
            threading.Thread(
                target=lambda: stop.wait(max(0.0, deadline - time.monotonic())) or stop.set(),
                daemon=True,
            ).start()
        runner = StreamRunner(poll_s=max(0.1, opts["poll"]))
        try:
            runner.run(stop)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        self.stdout.write("broker streams stopped")
