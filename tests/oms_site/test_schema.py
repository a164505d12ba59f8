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
        # then each documents 503, one that takes an API key or session 401, 403 and 429
        security = operation.get("security", [])
        expected = {"401", "403", "429", "503"} if security and {} not in security else {"503"}
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


def test_dates_and_times_sent_are_within_the_years_the_server_takes(schema):
    # given a date in a body and a time in a query (oms_site.parsing: 1900..9998)
    date = _component(schema, "SnapshotInputRequest")["properties"]["date"]
    parameters = schema["paths"]["/api/v1/orders/"]["get"]["parameters"]
    after = next(p for p in parameters if p["name"] == "after")["schema"]
    # then both say so
    for field, good, bad in (
        (date, "1900-01-01", "0001-01-01"),
        (after, "9998-12-31T00:00Z", "9999-01-01T00:00Z"),
    ):
        assert re.match(field["pattern"], good) and not re.match(field["pattern"], bad), field


def test_whole_numbers_in_a_query_are_bounded_as_the_server_reads_them(schema):
    # given the order book's depth and any list's paging
    depth = schema["paths"]["/api/v1/orderbook/{symbol}/"]["get"]["parameters"]
    limit = schema["paths"]["/api/v1/orders/"]["get"]["parameters"]
    depth = next(p for p in depth if p["name"] == "depth")["schema"]
    limit = next(p for p in limit if p["name"] == "limit")["schema"]
    # then their bounds are documented (a limit of 19 digits is a 400, not a big page)
    assert (depth["minimum"], depth["maximum"]) == (1, 50)
    assert (limit["minimum"], limit["maximum"]) == (1, 10**18 - 1)


def test_a_list_that_may_not_be_empty_says_so():
    from rest_framework import serializers

    from oms_site.schema import OmsAutoSchema

    # given a list input that refuses to be empty ("This list may not be empty.", 400)
    field = serializers.ListField(child=serializers.CharField(), allow_empty=False)
    # when the schema maps it
    schema = OmsAutoSchema()._map_serializer_field(field, "request")
    # then it has at least one item
    assert schema["minItems"] == 1


def test_risk_limit_bounds_are_documented(schema):
    # given the risk limits input
    limits = _component(schema, "PatchedRiskLimitsRequest")["properties"]
    band = limits["price_band_pct"]["oneOf"][0]["pattern"]
    # then counts fit the database's integer column and the price band is 0..100 percent
    assert limits["max_orders_per_minute"]["maximum"] == 2_147_483_647
    assert re.fullmatch(band, "100") and re.fullmatch(band, "99.999")
    assert not re.fullmatch(band, "100.5") and not re.fullmatch(band, "-1")


def test_lists_are_documented_as_pages(schema):
    # given list endpoints answering pages of webhooks and deliveries
    for path in ("/api/v1/webhooks/", "/api/v1/notification-deliveries/"):
        body = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        # then the answer is a page (count, next, previous, results), not one object
        ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
        assert ref.startswith("Paginated"), (path, ref)


def test_a_replay_may_lack_what_is_shown_once(schema):
    # given creating a webhook (its secret shown once; a replay leaves it out)
    responses = schema["paths"]["/api/v1/webhooks/"]["post"]["responses"]
    # then the 201 requires the secret and the replayed 200 does not
    assert responses["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WebhookWithSecret"
    }
    replay = responses["200"]["content"]["application/json"]["schema"]["anyOf"]
    assert {"type": "object", "description": "a replay: without secret"} in replay


def test_a_notification_email_may_be_null(schema):
    # given the notification preferences (PUT takes "email": null as "my own address")
    email = _component(schema, "NotificationPreferencesRequest")["properties"]["email"]
    # then the schema says null is allowed
    assert email["nullable"] is True


def test_error_responses_use_the_shared_descriptions_unless_a_view_says_more():
    from oms_site.api import error_responses

    # Given the shared table, when a view documents its errors
    plain = error_responses(400, 404, 409)
    precise = error_responses(403, descriptions={403: "permission_denied (view-only member)"})
    # Then each status has its description, and a view's own wins
    assert {code: r.description for code, r in plain.items()} == {
        400: "validation_error",
        404: "not_found",
        409: "conflict / invalid_state",
    }
    assert precise[403].description == "permission_denied (view-only member)"
