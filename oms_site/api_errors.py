"""Every answer under /api/ is the error shape, whatever fails and wherever it fails.

DRF's exception handler (oms_site.api.exception_handler) covers the errors a view raises
on purpose. This module covers the rest:
  - a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE → 413 `payload_too_large`, refused
    from its Content-Length before anything reads it;
  - a dependency that is down (the database, Redis as cache or Celery broker) → 503
    `service_unavailable` with `Retry-After`; the request's transaction is rolled back,
    so nothing is half-stored;
  - any other unexpected error → 500 `server_error` (logged with its traceback);
  - Django's own 400/403/404/500 pages (unknown path, CSRF failure, an error raised in a
    middleware) → the same shape for /api/ paths; HTML pages elsewhere stay as they are.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import kombu.exceptions
import redis.exceptions
from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from oms_site.api import error_body

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
RETRY_AFTER_S = 5  # a restarted Redis or database answers again within seconds

# Errors that say "a service this request needs is not answering" (not "this request is
# wrong" and not "our code is wrong"): the client should retry later.
_DEPENDENCY_ERRORS: tuple[tuple[type[BaseException], str], ...] = (
    (OperationalError, "database"),
    (InterfaceError, "database"),
    (redis.exceptions.ConnectionError, "redis"),
    (redis.exceptions.TimeoutError, "redis"),
    (kombu.exceptions.OperationalError, "message broker"),
)


# What Django itself turns into 404/403/400 (through handler404/403/400 below).
_DJANGO_CLIENT_ERRORS = (Http404, PermissionDenied, BadRequest, SuspiciousOperation)


def is_api_path(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def dependency_down(exc: BaseException | None) -> str | None:
    """The name of the service `exc` says is unreachable, or None for any other error."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        for exc_type, name in _DEPENDENCY_ERRORS:
            if isinstance(exc, exc_type):
                return name
        exc = exc.__cause__ or exc.__context__
    return None


def service_unavailable(dependency: str) -> JsonResponse:
    body = error_body(
        "service_unavailable",
        f"The {dependency} is not answering; nothing was stored. Retry shortly.",
    )
    response = JsonResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response


def server_error() -> JsonResponse:
    body = error_body("server_error", "Something went wrong on our side; it has been logged.")
    return JsonResponse(body, status=500)


def payload_too_large() -> JsonResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = error_body(
        "payload_too_large", f"The request body is larger than the {limit:,} bytes allowed."
    )
    return JsonResponse(body, status=413)


def api_response_for(exc: BaseException, request: HttpRequest) -> JsonResponse:
    """The error-shape answer (and the log line) for an exception no view handled."""
    if isinstance(exc, RequestDataTooBig):
        return payload_too_large()
    dependency = dependency_down(exc)
    if dependency is not None:
        logger.warning(
            "%s %s: the %s is down (%s): 503", request.method, request.path, dependency, exc
        )
        return service_unavailable(dependency)
    logger.error("%s %s: unexpected error", request.method, request.path, exc_info=exc)
    return server_error()


def _declared_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None


class ApiErrorMiddleware:
    """Refuses oversized API bodies up front and turns errors of API views into the shape."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_path(request):
            length = _declared_length(request)
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if limit is not None and length is not None and length > limit:
                return payload_too_large()
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_path(request):
            return None  # pages keep Django's handling
        if isinstance(exception, RequestDataTooBig):
            return payload_too_large()
        if isinstance(exception, _DJANGO_CLIENT_ERRORS):
            return None  # Django answers 404/403/400 through the error views below
        return api_response_for(exception, request)


# --- Django's error views (urls.handler400/403/404/500, CSRF_FAILURE_VIEW) -----------------


def bad_request(request: HttpRequest, exception: Exception, **kwargs: Any) -> HttpResponse:
    if is_api_path(request):
        if isinstance(exception, RequestDataTooBig):
            return payload_too_large()
        return JsonResponse(error_body("validation_error", "The request is not valid."), status=400)
    return defaults.bad_request(request, exception, **kwargs)


def permission_denied(request: HttpRequest, exception: Exception, **kwargs: Any) -> HttpResponse:
    if is_api_path(request):
        body = error_body("permission_denied", "You do not have permission to do this.")
        return JsonResponse(body, status=403)
    return defaults.permission_denied(request, exception, **kwargs)


def page_not_found(request: HttpRequest, exception: Exception, **kwargs: Any) -> HttpResponse:
    if is_api_path(request):
        return JsonResponse(error_body("not_found", f"No endpoint at {request.path}."), status=404)
    return defaults.page_not_found(request, exception, **kwargs)


def server_error_view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """handler500: Django calls it while handling the error, so sys.exc_info() names it."""
    if is_api_path(request):
        exc = sys.exc_info()[1]
        dependency = dependency_down(exc)
        return service_unavailable(dependency) if dependency else server_error()
    return defaults.server_error(request, **kwargs)


def csrf_failure(request: HttpRequest, reason: str = "", **kwargs: Any) -> HttpResponse:
    if is_api_path(request):
        body = error_body(
            "permission_denied",
            "CSRF check failed: a browser session must send the X-CSRFToken header "
            "(API keys need none).",
        )
        return JsonResponse(body, status=403)
    from django.views.csrf import csrf_failure as django_csrf_failure

    return django_csrf_failure(request, reason=reason, **kwargs)
