"""The API's one error shape, whatever goes wrong."""

import pytest

pytestmark = pytest.mark.django_db


def test_no_auth_is_401_in_error_shape(api_client):
    # Given no credentials, when an authenticated endpoint is called
    response = api_client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200  # the schema is public
    response = api_client.get("/api/v1/nothing-here")
    # Then unknown paths are plain 404s
    assert response.status_code == 404


def test_healthz_reports_each_dependency(client):
    # Given the embedded defaults, when /healthz is called
    response = client.get("/healthz")
    # Then the database is up and the JSON names every check
    body = response.json()
    assert body["checks"]["database"]["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "celery"}
