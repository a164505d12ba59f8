"""strategies/signal_input.py: reading a signal's body (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from oms_site.errors import ValidationFailed
from strategies.signal_input import body_load, signal_input_parse


def _parse(raw: bytes):
    return signal_input_parse(body_load(raw))


def test_numbers_are_decimals_never_floats():
    signal = _parse(b'{"symbol": "ACME", "action": "BUY", "qty": 0.1, "price": "101.05"}')
    assert (signal.action, signal.qty, signal.price) == ("buy", D("0.1"), D("101.05"))


def test_ts_is_iso_with_an_offset_or_unix_seconds_or_milliseconds():
    expected = datetime(2025, 1, 31, 9, 15, tzinfo=UTC)
    for ts in (
        '"2025-01-31T09:15:00Z"',
        '"2025-01-31T14:45:00+05:30"',
        "1738314900",
        "1738314900000",
    ):
        raw = b'{"symbol": "ACME", "action": "exit", "ts": ' + ts.encode() + b"}"
        assert _parse(raw).ts == expected


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"not json", "body"),
        (b"[1, 2]", "body"),
        (b'{"action": "buy"}', "symbol"),
        (b'{"symbol": "ACME"}', "action"),
        (b'{"symbol": "ACME", "action": "hold"}', "action"),
        (b'{"symbol": "ACME", "action": "buy", "position": 5}', "position"),
        (b'{"symbol": "ACME", "position": ""}', "position"),
        (b'{"symbol": "ACME", "action": "buy", "qty": -1}', "qty"),
        (b'{"symbol": "ACME", "action": "buy", "qty": "1e3"}', "qty"),
        (b'{"symbol": "ACME", "action": "buy", "ts": "2025-01-31T09:15:00"}', "ts"),
        (b'{"symbol": "ACME", "action": "buy", "id": ""}', "id"),
        ('{"symbol": "ACME", "action": "buy", "ts": "\u0661\u0662"}'.encode(), "ts"),
    ],
)
def test_a_bad_body_is_a_400_naming_the_field(raw, field):
    with pytest.raises(ValidationFailed) as caught:
        _parse(raw)
    assert list(caught.value.fields) == [field]


def test_a_numeric_ticker_is_read_as_its_text():
    # a script sending a BSE scrip code as a JSON number (mapped by the strategy's symbols)
    assert _parse(b'{"symbol": 500325, "action": "buy"}').symbol == "500325"


def test_a_ticker_that_is_neither_text_nor_a_whole_number_says_so():
    for raw in (b'{"symbol": true, "action": "buy"}', b'{"symbol": 1.5, "action": "buy"}'):
        with pytest.raises(ValidationFailed) as caught:
            _parse(raw)
        assert caught.value.fields == {"symbol": ["Must be text: the alert's ticker."]}
