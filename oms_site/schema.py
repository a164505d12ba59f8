"""The OpenAPI schema tells the truth about the API conventions (API.md § Conventions).

drf-spectacular builds the schema from the views and serializers; this module adds what
every operation shares, in one place instead of on each view:

- decimals are strings on output (``"10.05"``) and a string or a JSON number on input, with
  the digits the field takes (``DecimalFieldExtension``);
- the error answers every operation can give, each in the one error shape
  ``{"error": {"code", "message", "fields"?}}`` (``OmsAutoSchema``): 400 for any input,
  401/403/429 for an authenticated caller, 404 for a path naming an object, 409 for an
  ``Idempotency-Key`` reused with another body, 413/415 for a body, 503 when a dependency
  (database, Redis) is down; codes a view documents itself (409 invalid_state, 422
  risk_rejected, ...) get the same body;
- query values as oms_site.parsing reads them: empty is absent (``allowEmptyValue``), dates
  within its years;
- ``minItems: 1`` for a list that may not be empty;
- ``additionalProperties: false`` on request bodies whose serializer says
  ``rejects_unknown_fields`` (an unknown key is a 400, not silently ignored);
- 200 beside 201 where an ``Idempotency-Key`` replay answers the creation again.

``DEFAULT_SCHEMA_CLASS`` names ``OmsAutoSchema``, which also registers the field extension.
"""

from __future__ import annotations

import copy
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from oms_site.parsing import EARLIEST_DATE, LATEST_DATE

IDEMPOTENCY_HEADER = "Idempotency-Key"

# For `@extend_schema_field` on a method field that answers a string or null.
NULLABLE_STRING = serializers.CharField(allow_null=True)

# What each error status means in this API (the codes of API.md).
ERROR_CODES = {
    400: "validation_error: the request is not valid (the fields say which input and why)",
    401: "not_authenticated: no, an invalid, revoked or expired API key or session",
    403: "permission_denied: authenticated but not allowed",
    404: "not_found: no such object, or one the caller may not see",
    409: "conflict / invalid_state",
    413: "payload_too_large: the request body is too large",
    415: "unsupported_media_type: the body is not JSON",
    422: "risk_rejected: refused by a risk check",
    429: "rate_limited: too many requests; retry after Retry-After seconds",
    503: "service_unavailable (a dependency such as the database is down, nothing stored; "
    "Retry-After) or broker_unavailable",
}
IDEMPOTENCY_CONFLICT = f"conflict: the {IDEMPOTENCY_HEADER} was used with another request"
REPLAYED_CREATION = f"the first answer again (the same {IDEMPOTENCY_HEADER} and body)"


def decimal_pattern(
    *,
    max_digits: int | None,
    decimal_places: int | None,
    non_negative: bool = False,
    at_most: int | None = None,
) -> str:
    """Plain ASCII decimals, `-?digits[.digits]`, with at most the digits the field keeps
    (leading zeros are not digits of the value); no sign when negatives are refused; up to
    `at_most` (a whole number) when there is such a bound."""
    sign = "" if non_negative else "-?"
    places = "+" if decimal_places is None else f"{{1,{decimal_places}}}"
    if at_most is not None:
        below = _whole_up_to(at_most - 1)
        return rf"^{sign}0*(?:{below}(\.[0-9]{places})?|{at_most}(\.0{places})?)$"
    whole_digits = None if max_digits is None else max(max_digits - (decimal_places or 0), 1)
    whole = "+" if whole_digits is None else f"{{1,{whole_digits}}}"
    return rf"^{sign}0*[0-9]{whole}(\.[0-9]{places})?$"


def _whole_up_to(highest: int) -> str:
    """A regex for the whole numbers 0..highest (no leading zeros)."""
    text = str(highest)
    parts = [f"[0-{min(highest, 9)}]"]
    for length in range(2, len(text) + 1):
        high = text if length == len(text) else "9" * length
        parts.append(_digits_between("1" + "0" * (length - 1), high))
    return "(?:" + "|".join(parts) + ")"


def _digits_between(low: str, high: str) -> str:
    """A regex for the digit strings of one length from `low` to `high`."""
    if not low:
        return ""
    if set(low) == {"0"} and set(high) == {"9"}:
        return f"[0-9]{{{len(low)}}}"
    first, last, rest = int(low[0]), int(high[0]), len(low) - 1
    if first == last:
        return f"{first}{_digits_between(low[1:], high[1:])}"
    parts = [f"{first}{_digits_between(low[1:], '9' * rest)}"]
    if last - first > 1:
        parts.append(f"[{first + 1}-{last - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    parts.append(f"{last}{_digits_between('0' * rest, high[1:])}")
    return "(?:" + "|".join(parts) + ")"


# Dates and times a client may send: oms_site.parsing takes EARLIEST_DATE..LATEST_DATE (whole
# years), i.e. these years.
YEARS_PATTERN = "^" + _digits_between(f"{EARLIEST_DATE.year:04}", f"{LATEST_DATE.year:04}") + "-"


class UtcDateTimeFieldExtension(OpenApiSerializerFieldExtension):
    """A time sent to the API: ISO 8601 with an offset, in the years the parser takes."""

    target_class = "oms_site.api.UtcDateTimeField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["pattern"] = YEARS_PATTERN
        return schema


class IsoDateFieldExtension(UtcDateTimeFieldExtension):
    """A date sent to the API: YYYY-MM-DD in the years the parser takes."""

    target_class = "oms_site.api.IsoDateField"


class DecimalFieldExtension(OpenApiSerializerFieldExtension):
    """Every DecimalField (DecimalString included): API.md "Output: strings (`"10.05"`).
    Input: a string or a JSON number"."""

    target_class = "rest_framework.fields.DecimalField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        field: serializers.DecimalField = self.target
        if direction == "response":
            return {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "example": "10.05"}
        non_negative = field.min_value is not None and field.min_value >= 0
        whole_bound = field.max_value is not None and field.max_value == int(field.max_value)
        pattern = decimal_pattern(
            max_digits=field.max_digits,
            decimal_places=field.decimal_places,
            non_negative=non_negative,
            at_most=int(field.max_value) if non_negative and whole_bound else None,
        )
        as_string = {"type": "string", "pattern": pattern}
        as_number: dict[str, Any] = {"type": "number"}
        if field.decimal_places is not None:
            as_number["multipleOf"] = 10**-field.decimal_places
        if field.max_digits is not None:
            bound = 10 ** (field.max_digits - (field.decimal_places or 0))
            as_number.update(
                maximum=bound, exclusiveMaximum=True, minimum=-bound, exclusiveMinimum=True
            )
        if field.min_value is not None:
            as_number.update(minimum=field.min_value, exclusiveMinimum=False)
        if field.max_value is not None:
            as_number.update(maximum=field.max_value, exclusiveMaximum=False)
        return {"oneOf": [as_string, as_number], "example": "10.05"}


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="snake_case, stable (API.md)")
    message = serializers.CharField(help_text="a human sentence")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="input name → what is wrong with it",
    )


class ErrorSerializer(serializers.Serializer):
    """The one error shape of the API. Some errors add documented keys beside `error`
    (a risk rejection's `order_id`)."""

    error = ErrorDetailSerializer()


def _has_parameter(operation: dict[str, Any], location: str, name: str | None = None) -> bool:
    return any(
        p.get("in") == location and (name is None or p.get("name") == name)
        for p in operation.get("parameters", [])
    )


def _error_statuses(operation: dict[str, Any]) -> set[int]:
    statuses = {503}
    security = operation.get("security", [])
    if security and {} not in security:
        statuses |= {401, 403, 429}
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.add(400)
    if _has_parameter(operation, "path"):
        statuses.add(404)
    if operation.get("requestBody"):
        statuses |= {413, 415}
    if _has_parameter(operation, "header", IDEMPOTENCY_HEADER):
        statuses.add(409)
    return statuses


def _bound_query_value(parameter: dict[str, Any]) -> None:
    """What oms_site.parsing takes in a query: an empty value is no value (`?account=` is
    what an HTML form sends for "any"); dates and times within its years."""
    if not parameter.get("required"):
        parameter["allowEmptyValue"] = True
    schema = parameter.get("schema", {})
    if schema.get("format") in ("date", "date-time"):
        schema["pattern"] = YEARS_PATTERN


class OmsAutoSchema(AutoSchema):
    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "query":
                _bound_query_value(parameter)
        responses = operation["responses"]
        idempotent = _has_parameter(operation, "header", IDEMPOTENCY_HEADER)
        if idempotent and "201" in responses and "200" not in responses:
            # A replay (same key and body) answers the first 201 again, as 200 ...
            responses["200"] = {**copy.deepcopy(responses["201"]), "description": REPLAYED_CREATION}
        redacted = getattr(self._handler(), "redacted_on_replay", ())
        if idempotent and redacted and "200" in responses:
            # ... without what is shown once (a new key's secret): the 200 may lack it.
            replayed = {"type": "object", "description": f"a replay: without {', '.join(redacted)}"}
            for media in responses["200"].get("content", {}).values():
                media["schema"] = {"anyOf": [media["schema"], replayed]}
        error_body = {"application/json": {"schema": self._error_component_ref()}}
        documented = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
        for status in sorted(documented | _error_statuses(operation)):
            response = responses.setdefault(str(status), {})
            response.setdefault("content", error_body)
            if not response.get("description"):
                conflict = status == 409 and idempotent
                response["description"] = (
                    IDEMPOTENCY_CONFLICT if conflict else ERROR_CODES.get(status, "error")
                )
        return operation

    def _map_serializer_field(
        self, field: Any, direction: str, bypass_extensions: bool = False
    ) -> dict[str, Any] | None:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        refuses_empty = getattr(field, "allow_empty", True) is False
        if direction == "request" and refuses_empty and schema and schema.get("type") == "array":
            schema["minItems"] = max(schema.get("minItems", 0), 1)  # "may not be empty" (400)
        return schema

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and getattr(serializer, "rejects_unknown_fields", False):
            schema["additionalProperties"] = False
        return schema

    def _handler(self) -> Any:
        return getattr(self.view, getattr(self.view, "action", None) or self.method.lower(), None)

    def _error_component_ref(self) -> dict[str, str]:
        return self.resolve_serializer(ErrorSerializer, "response").ref
