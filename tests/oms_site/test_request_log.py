"""The web log: a refused request is one line, a traceback only for a server error."""

from __future__ import annotations

import logging

import pytest
from django.http import HttpResponseServerError
from django.test import RequestFactory
from django.utils.log import log_response

pytestmark = pytest.mark.django_db


def _request_records(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "django.request"]


def test_a_user_refused_the_back_office_leaves_one_line_and_no_traceback(client, trader, caplog):
    # given a trader (no back-office access) signed in
    client.force_login(trader)
    caplog.set_level(logging.WARNING, logger="django.request")
    # when they open the back office
    response = client.get("/admin/login/?next=/admin/")
    # then they are refused, and the log says so in one line without a traceback
    assert response.status_code == 403
    records = _request_records(caplog)
    assert [record.getMessage() for record in records] == [
        "Forbidden (Permission denied): /admin/login/"
    ]
    assert records[0].exc_info is None


def test_a_server_error_keeps_its_traceback(caplog):
    # given a failure that Django logs as a 500 with the exception
    request = RequestFactory().get("/orders/")
    caplog.set_level(logging.ERROR, logger="django.request")
    try:
        raise RuntimeError("boom")
    except RuntimeError as error:
        # when it is logged
        log_response(
            "Internal Server Error: %s",
            request.path,
            response=HttpResponseServerError(),
            request=request,
            exception=error,
        )
    # then the traceback is there
    (record,) = _request_records(caplog)
    assert record.exc_info is not None
