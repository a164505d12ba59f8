"""`manage.py run_fake_broker`: the fakes' quotes come from OMS's market data, and the command
serves the named broker's fake."""

from __future__ import annotations

import subprocess
import sys
import time
from decimal import Decimal

import pytest
import requests
from django.core.management import call_command
from django.core.management.base import CommandError

from execution.fakes import marketdata_quote_source
from marketdata.services import tick_ingest
from tests.marketdata.factories import InstrumentFactory


@pytest.mark.django_db
def test_the_quote_source_maps_the_brokers_symbol_back_to_the_instrument():
    InstrumentFactory(symbol="APPLE", broker_symbols={"alpaca": "AAPL"})
    InstrumentFactory(symbol="MSFT")
    tick_ingest(symbol="APPLE", last="190", bid="189.9", ask="190.1", volume=0, source="test")
    tick_ingest(symbol="MSFT", last="410", volume=0, source="test")
    source = marketdata_quote_source("alpaca")
    apple = source("AAPL")
    assert (apple.bid, apple.ask, apple.last) == (
        Decimal("189.9"),
        Decimal("190.1"),
        Decimal("190"),
    )
    assert source("MSFT").last == Decimal("410")  # no broker symbol: the same name
    assert source("NOPE") is None


def test_an_unknown_broker_or_a_bad_port_is_refused():
    with pytest.raises(CommandError):
        call_command("run_fake_broker", "nobroker", "--port", "9999")
    with pytest.raises(CommandError, match="--port"):
        call_command("run_fake_broker", "alpaca", "--port", "0")


@pytest.mark.integration
def test_the_command_serves_the_alpaca_fake_on_the_given_port(tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_fake_broker", "alpaca", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/v2/clock", timeout=1)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stdout.read().decode()
                assert time.monotonic() < deadline, "the fake did not start"
                time.sleep(0.2)
        assert answer.status_code == 401  # it speaks Alpaca: no key, no answer
        assert set(answer.json()) == {"code", "message"}
    finally:
        process.terminate()
        process.wait(timeout=10)
