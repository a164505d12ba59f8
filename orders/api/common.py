"""What the orders API views share: the documented error answers, the order id path
parameter, the API key of a request, a serializer's errors in the API's error shape."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.request import Request

from accounts.models import ApiKey
from oms_site.api import error_body, flatten_fields, validation_message
from oms_site.api import error_responses as shared_error_responses

# What the orders endpoints' schema says of two error answers beyond the shared wording.
ORDER_ERROR_DESCRIPTIONS = {
    403: "permission_denied (view-only membership)",
    422: "risk_rejected (the order is stored; body has order_id)",
}
ORDER_ID_PARAMETER = OpenApiParameter(
    "order_id", str, OpenApiParameter.PATH, description="Order id"
)


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The schema's error answers for these status codes (oms_site.api's, in orders' words)."""
    return shared_error_responses(*codes, descriptions=ORDER_ERROR_DESCRIPTIONS)


def request_api_key(request: Request) -> ApiKey | None:
    """The API key a request is authenticated with (None: a session)."""
    return request.auth if isinstance(request.auth, ApiKey) else None


def serializer_error(errors: Any) -> dict[str, Any]:
    """A serializer's `errors` as the body of a 400 `validation_error` (its "error" part)."""
    fields = flatten_fields(errors)
    return error_body("validation_error", validation_message(fields), fields)["error"]
