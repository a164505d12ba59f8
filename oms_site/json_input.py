"""JSON from clients with a bounded nesting depth, checked BEFORE parsing.

Python's json module recurses once per nested array/object: `[` × 100,000 raises
RecursionError (not ValueError), which DRF's parser does not catch (a 500) and which kills a
WebSocket consumer. No request of the API nests anywhere near MAX_JSON_DEPTH (a batch of
bracket orders is 4 levels), so deeper input is refused as a validation error.

The scan is cheap: a body with at most MAX_JSON_DEPTH opening brackets cannot be too deep
(every normal request stops there); otherwise strings are cut out by one regex (a bracket
inside a string is text) and the depth is the running sum over the brackets left, computed
by C-level iterators.
"""

from __future__ import annotations

import io
import json
import re
from itertools import accumulate, count
from operator import sub
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 32

# A JSON string, or an unterminated one up to the end (possessive: never backtracks, so the
# scan stays linear whatever the input; `\\?` takes a lone trailing backslash).
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
# Opening bracket → 2, closing → 0: the running sum minus the position is the depth.
_STEPS = str.maketrans({"[": "\x02", "{": "\x02", "]": "\x00", "}": "\x00"})


class JsonTooDeep(ValueError):
    """Nested deeper than MAX_JSON_DEPTH (a ValueError: callers treat it as bad JSON)."""


def json_depth(text: str) -> int:
    """The deepest nesting of arrays/objects in `text` (brackets inside strings ignored)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    steps = brackets.translate(_STEPS).encode("latin-1")
    return max(map(sub, accumulate(steps), count(1)), default=0)


def json_depth_check(text: str, *, limit: int = MAX_JSON_DEPTH) -> None:
    if text.count("[") + text.count("{") <= limit:
        return
    if json_depth(text) > limit:
        raise JsonTooDeep(f"JSON nested deeper than {limit} levels.")


def json_loads_bounded(text: str | bytes, *, limit: int = MAX_JSON_DEPTH) -> Any:
    """json.loads that refuses deep nesting with JsonTooDeep instead of a RecursionError."""
    if isinstance(text, bytes | bytearray):
        text = text.decode()
    json_depth_check(text, limit=limit)
    return json.loads(text)


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with the depth check first (REST_FRAMEWORK DEFAULT_PARSER_CLASSES)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            json_depth_check(raw.decode(encoding))
        except (JsonTooDeep, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        return super().parse(io.BytesIO(raw), media_type, parser_context)
