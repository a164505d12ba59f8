"""The nesting-depth scan that runs before any client JSON is parsed."""

from __future__ import annotations

import pytest

from oms_site.json_input import JsonTooDeep, json_depth, json_loads_bounded


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("", 0),
        ("12.5", 0),
        ("[]", 1),
        ('[[{"a": [1, {"b": null}]}]]', 5),
        ('["[[[[", "{{{{"]', 1),  # brackets inside strings are text
        ('["a \\"[[[[\\" b"]', 1),  # ... also after an escaped quote
        ('["\\\\", [[]]]', 3),  # an escaped backslash ends before the closing quote
        ('"unterminated [[[[', 0),
        ('["lone backslash at the end\\', 1),
    ],
)
def test_depth_counts_arrays_and_objects_outside_strings(text, depth):
    assert json_depth(text) == depth


def test_deep_input_is_a_value_error_before_json_recurses():
    # given nesting far past Python's recursion limit
    deep = "[" * 100_000 + "]" * 100_000
    # when it is loaded through the bounded loader: a ValueError, not a RecursionError
    with pytest.raises(JsonTooDeep):
        json_loads_bounded(deep)
    with pytest.raises(ValueError):
        json_loads_bounded(deep.encode())


def test_ordinary_json_loads_as_usual():
    assert json_loads_bounded('{"action": "subscribe", "channels": ["orders"]}') == {
        "action": "subscribe",
        "channels": ["orders"],
    }
