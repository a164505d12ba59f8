"""API plumbing shared by every app: error shape, pagination, decimal output, routers."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import exception_handler as drf_exception_handler

from oms_site.errors import ApplicationError
from oms_site.parsing import (
    DATE_HINT,
    MAX_WHOLE_DIGITS,
    TIME_HINT,
    InputError,
    date_from_text,
    datetime_from_text,
    decimal_from_input,
    query_int,
    query_int_schema,
    whole_number_from_input,
)
from oms_site.values import format_decimal

logger = logging.getLogger(__name__)

# What a view's schema says of each error answer it documents (the schema adds the body: always
# the API's error shape, oms_site.schema). A view may say more through `descriptions`.
ERROR_RESPONSE_DESCRIPTIONS: dict[int, str] = {
    400: "validation_error",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    409: "conflict / invalid_state",
    422: "risk_rejected",
    503: "broker_unavailable",
}


def error_responses(
    *codes: int, descriptions: Mapping[int, str] | None = None
) -> dict[int, OpenApiResponse]:
    """`responses=` entries for a view's documented error statuses, e.g.
    `extend_schema(responses={200: S, **error_responses(400, 401, 404)})`."""
    table = {**ERROR_RESPONSE_DESCRIPTIONS, **(descriptions or {})}
    return {code: OpenApiResponse(description=table[code]) for code in codes}


_DRF_CODES: list[tuple[type[exceptions.APIException], str]] = [
    (exceptions.ValidationError, "validation_error"),
    (exceptions.ParseError, "validation_error"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "not_authenticated"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "rate_limited"),
]


def error_body(
    code: str, message: str, fields: dict[str, list[str]] | None = None, **extra: Any
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    body: dict[str, Any] = {"error": error}
    body.update(extra)
    return body


def flatten_fields(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF nests errors for nested serializers and lists; the contract wants field → messages."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors" and not prefix:
                name = "non_field_errors"
            out.update(flatten_fields(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                out.update(flatten_fields(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return {key: value for key, value in out.items() if value}


def validation_message(fields: dict[str, list[str]]) -> str:
    if not fields:
        return "The request is not valid."
    name, messages = next(iter(fields.items()))
    if name == "non_field_errors":
        return messages[0]
    return f"{name}: {messages[0]}"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The one place where errors become the contract's `{"error": {...}}` shape."""
    if isinstance(exc, ApplicationError):
        body = error_body(exc.code, exc.message, exc.fields or None, **exc.extra)
        return Response(body, status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django logs it and answers 500
    code = "error"
    for exc_type, mapped in _DRF_CODES:
        if isinstance(exc, exc_type):
            code = mapped
            break
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_fields(exc.detail)
        response.data = error_body(code, validation_message(fields), fields)
    else:
        detail = getattr(exc, "detail", str(exc))
        response.data = error_body(code, str(detail))
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response.status_code = 401
    return response


@csrf_exempt  # an API key needs no CSRF token: a POST to an unknown path is a 404, not a 403
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Unknown paths under /api/v1/ answer in the error shape too (not Django's HTML page)."""
    body = error_body("not_found", f"No endpoint at {request.path}.")
    return JsonResponse(body, status=404)


class OmsPagination(LimitOffsetPagination):
    """`?limit=&offset=` (API.md): limit 1.. (above max_limit counts as max_limit), offset
    0..; anything else is a 400 naming the parameter (DRF would silently use the default)."""

    default_limit = 100
    max_limit = 1000
    max_offset = 10**15

    def get_limit(self, request: Any) -> int:
        limit = query_int(
            request.query_params, self.limit_query_param, default=self.default_limit, minimum=1
        )
        return min(limit, self.max_limit)

    def get_offset(self, request: Any) -> int:
        return query_int(
            request.query_params,
            self.offset_query_param,
            default=0,
            minimum=0,
            maximum=self.max_offset,
        )

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: query_int_schema(minimum=1),
            self.offset_query_param: query_int_schema(minimum=0, maximum=self.max_offset),
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters


class StrictFieldsMixin:
    """Input as the schema says (oms_site.schema): an unknown key is an error (400), not
    silently ignored, and a text field takes text (DRF would turn 5 into "5")."""

    rejects_unknown_fields = True

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            not_text = [
                name
                for name, field in self.fields.items()
                if isinstance(field, serializers.CharField)
                and data.get(name) is not None
                and not isinstance(data[name], str)
            ]
            if not_text:
                raise serializers.ValidationError({name: ["Must be text."] for name in not_text})
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        initial = getattr(self, "initial_data", None)
        if isinstance(initial, dict):
            unknown = sorted(set(initial) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().validate(attrs)


class DecimalString(serializers.DecimalField):
    """Decimals in and out as plain strings without trailing zeros ("10.05", "100").

    Input: a JSON number or a plain decimal string (oms_site.parsing.decimal_from_input:
    no "1_000", full-width digits, padding or exponent in strings).
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 28)
        kwargs.setdefault("decimal_places", 8)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        try:
            number = decimal_from_input(data)
        except InputError as exc:
            raise serializers.ValidationError(exc.message, code="invalid") from exc
        return super().to_internal_value(number)

    def to_representation(self, value: Any) -> str | None:
        if value is None:
            return None
        return format_decimal(Decimal(value))


class WholeNumberField(serializers.IntegerField):
    """A whole number: a JSON integer or a plain digit string (oms_site.parsing
    .whole_number_from_input), then DRF's min/max checks. Its schema states the most digits
    the parser takes (a larger value is refused however it is sent)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_value", 10**MAX_WHOLE_DIGITS - 1)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        try:
            number = whole_number_from_input(data)
        except InputError as exc:
            raise serializers.ValidationError(exc.message, code="invalid") from exc
        return super().to_internal_value(number)


class UtcDateTimeField(serializers.DateTimeField):
    """ISO 8601 in UTC on output whatever TIME_ZONE says (API.md: "UTC on output").

    Input: ISO 8601 text WITH an offset, within oms_site.parsing's date range (DRF would read
    a time without an offset in the server's time zone).
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("default_timezone", dt.UTC)
        super().__init__(**kwargs)

    def to_internal_value(self, value: Any) -> dt.datetime:
        if not isinstance(value, str):
            self.fail("invalid", format=TIME_HINT)
        try:
            return datetime_from_text(value)
        except InputError as exc:
            raise serializers.ValidationError(exc.message, code="invalid") from exc


class IsoDateField(serializers.DateField):
    """A date as YYYY-MM-DD within oms_site.parsing's range (a far date overflowed the day
    arithmetic behind it)."""

    def to_internal_value(self, value: Any) -> dt.date:
        if not isinstance(value, str):
            self.fail("invalid", format=DATE_HINT)
        try:
            return date_from_text(value)
        except InputError as exc:
            raise serializers.ValidationError(exc.message, code="invalid") from exc


class OptionalSlashRouter(DefaultRouter):
    """The contract makes trailing slashes optional on every endpoint."""

    include_root_view = False

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"
