"""What the orders API views share: the documented error answers, the order id path
parameter, the API key of a request, a serializer's errors in the API's error shape.
(strategies/api.py documents its errors with `error_responses` too.)"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.request import Request

from accounts.models import ApiKey
from oms_site.api import error_body, flatten_fields, validation_message

_ERRORS = {
    400: OpenApiResponse(description="validation_error"),
    401: OpenApiResponse(description="not_authenticated"),
    403: OpenApiResponse(description="permission_denied (view-only membership)"),
    404: OpenApiResponse(description="not_found"),
    409: OpenApiResponse(description="conflict / invalid_state"),
    422: OpenApiResponse(description="risk_rejected (the order is stored; body has order_id)"),
    503: OpenApiResponse(description="broker_unavailable"),
}
ORDER_ID_PARAMETER = OpenApiParameter(
    "order_id", str, OpenApiParameter.PATH, description="Order id"
)


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The schema's error answers for these status codes."""
    return {code: _ERRORS[code] for code in codes}


def request_api_key(request: Request) -> ApiKey | None:
    """The API key a request is authenticated with (None: a session)."""
    return request.auth if isinstance(request.auth, ApiKey) else None


def serializer_error(errors: Any) -> dict[str, Any]:
    """A serializer's `errors` as the body of a 400 `validation_error` (its "error" part)."""
    fields = flatten_fields(errors)
    return error_body("validation_error", validation_message(fields), fields)["error"]
