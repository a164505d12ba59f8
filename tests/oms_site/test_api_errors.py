"""oms_site.api_errors: Django's own error paths answer in the error shape under /api/
(and stay HTML pages elsewhere)."""

from __future__ import annotations

import json

import pytest
import redis.exceptions
from django.http import Http404, HttpResponse
from django.test import RequestFactory

from oms_site import api_errors

pytestmark = pytest.mark.django_db


def _json(response) -> dict:
    assert response["Content-Type"].startswith("application/json")
    return json.loads(response.content)


def test_a_404_raised_by_a_django_view_under_the_api_stays_a_json_404():
    # given a Django (non-DRF) view under /api/ raising Http404
    request = RequestFactory().get("/api/v1/something/42")
    middleware = api_errors.ApiErrorMiddleware(lambda request: HttpResponse())
    # when the middleware sees it, it leaves it to Django (not a 500)
    assert middleware.process_exception(request, Http404("no such thing")) is None
    # then Django's 404 view answers in the error shape
    response = api_errors.page_not_found(request, Http404("no such thing"))
    assert response.status_code == 404
    assert _json(response)["error"]["code"] == "not_found"


def test_an_error_raised_outside_a_view_with_redis_down_is_a_503_with_retry_after():
    # given a request under /api/ failing in a middleware because Redis is down
    request = RequestFactory().post("/api/v1/orders")
    try:
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6390.")
    except redis.exceptions.ConnectionError:
        # when Django calls handler500 while handling it
        response = api_errors.server_error_view(request)
    # then 503 service_unavailable with Retry-After
    assert response.status_code == 503
    assert response["Retry-After"] == str(api_errors.RETRY_AFTER_S)
    assert _json(response)["error"]["code"] == "service_unavailable"


def test_a_csrf_failure_under_the_api_is_json_and_a_page_keeps_django_s_page():
    factory = RequestFactory()
    api = api_errors.csrf_failure(factory.post("/api/v1/orders"), reason="no cookie")
    page = api_errors.csrf_failure(factory.post("/orders/ticket/"), reason="no cookie")
    assert api.status_code == page.status_code == 403
    assert _json(api)["error"]["code"] == "permission_denied"
    assert page["Content-Type"].startswith("text/html")


def test_pages_keep_django_s_html_500():
    request = RequestFactory().get("/orders/")
    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        response = api_errors.server_error_view(request)
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
