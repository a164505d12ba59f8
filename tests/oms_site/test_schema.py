"""The published OpenAPI schema (/api/v1/schema/) says what the API really does."""

from __future__ import annotations

import re
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _component(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return schema["components"]["schemas"][name]


def _operations(schema: dict[str, Any]):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def test_decimals_are_documented_as_the_strings_they_are(schema):
    # given the schema of an account (cash from a model field, buying power computed)
    account = _component(schema, "Account")["properties"]
    # when its amounts are read
    # then both are decimal strings, not JSON numbers
    for name in ("cash", "buying_power"):
        assert account[name]["type"] == "string", account[name]
        assert re.fullmatch(account[name]["pattern"], "-1000000.5"), account[name]
        assert not re.fullmatch(account[name]["pattern"], "1e5"), account[name]


def test_decimal_input_is_a_plain_string_or_a_json_number_within_the_fields_digits(schema):
    # given the order input's qty (20 digits, 8 of them decimals)
    qty = _component(schema, "OrderInputRequest")["properties"]["qty"]
    as_string, as_number = qty["oneOf"]
    # then a string takes plain ASCII decimals with at most 12 + 8 digits
    for good in ("1", "0.5", "-2", "000123456789012.12345678"):
        assert re.fullmatch(as_string["pattern"], good), good
    for bad in ("1_000", "１", " 1 ", "1e5", "1.", ".5", "1234567890123", "0.123456789"):
        assert not re.fullmatch(as_string["pattern"], bad), bad
    # and a number is bounded the same way
    assert as_number["type"] == "number" and as_number["maximum"] == 10**12
    assert as_number["exclusiveMaximum"] is True and as_number["multipleOf"] == 1e-8


def test_fields_that_can_be_null_are_nullable(schema):
    # given the order, GTT and schedule answers
    order = _component(schema, "Order")["properties"]
    gtt = _component(schema, "Gtt")["properties"]
    schedule = _component(schema, "Schedule")["properties"]
    # then what a simple order, an untriggered GTT or a schedule that never ran has as null
    for field in (
        order["parent_id"],
        order["reject_reason"],
        order["algo"],
        gtt["reject_reason"],
        schedule["last_order_id"],
        schedule["last_order_status"],
    ):
        assert field.get("nullable") is True, field


def test_every_operation_documents_its_errors_in_the_error_shape(schema):
    # given every operation of the API
    for label, operation in _operations(schema):
        responses = operation["responses"]
        # then an authenticated one documents 401, 403, 429 and 503 at least
        expected = {"503"} if "schema" in label else {"401", "403", "429", "503"}
        if any(p["in"] == "path" for p in operation.get("parameters", [])):
            expected.add("404")
        if "requestBody" in operation:
            expected |= {"400", "413", "415"}
        assert expected <= set(responses), (label, sorted(responses))
        # and every error answer has the one error body
        for status, response in responses.items():
            if int(status) >= 400:
                body = response["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/Error"}, (label, status)
    error = _component(schema, "Error")
    assert error["required"] == ["error"]
    assert set(_component(schema, "ErrorDetail")["required"]) == {"code", "message"}


def test_an_idempotency_key_is_documented_with_the_lengths_the_server_takes(schema):
    # given an operation that takes an Idempotency-Key
    operation = schema["paths"]["/api/v1/orders/"]["post"]
    (header,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    # then an empty key is invalid (the server answers 400), reuse is a documented 409,
    # and a replay of a creation is a documented 200
    assert header["schema"]["minLength"] == 1 and header["schema"]["maxLength"] == 200
    assert {"200", "201", "409"} <= set(operation["responses"])
    snapshot = schema["paths"]["/api/v1/pnl/snapshots/"]["post"]["responses"]
    assert "200" in snapshot and "201" in snapshot


def test_bodies_that_refuse_unknown_keys_say_so(schema):
    # given inputs the server refuses unknown keys in (400 "Unknown field.")
    # then their schemas allow no additional properties
    for name in ("OrderInputRequest", "AccountCreateRequest", "PatchedAccountUpdateRequest"):
        assert _component(schema, name)["additionalProperties"] is False, name


def test_optional_query_filters_may_be_empty(schema):
    # given the blotter's filters: `?account=` is what a form sends for "any account"
    parameters = schema["paths"]["/api/v1/orders/"]["get"]["parameters"]
    account = next(p for p in parameters if p["name"] == "account")
    status = next(p for p in parameters if p["name"] == "status")
    # then an empty value is allowed, and the status filter lists its values
    assert account["allowEmptyValue"] is True
    assert {"open", "closed", "all", "filled"} <= set(status["schema"]["enum"])
