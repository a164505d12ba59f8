"""/api/v1/me, and the one error shape for 400/401/403/404 on accounts endpoints."""

from __future__ import annotations

import pytest

from tests.factories import account_with_member

pytestmark = pytest.mark.django_db


def _assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def test_me_lists_my_accounts_with_my_role(make_key_client, dealer):
    # Given a dealer who trades one client account and views another
    trade = account_with_member(user=dealer, role="trade", name="Client A")
    view = account_with_member(user=dealer, role="view", name="Client B")
    account_with_member(user=dealer.__class__.objects.create(username="x"), name="Other")
    # When they ask who they are
    body = make_key_client(dealer).get("/api/v1/me").json()
    # Then they see themselves and exactly their accounts with their role on each
    assert body["id"] == str(dealer.pk)
    assert body["username"] == "dealer1"
    assert body["email"] == "dealer1@example.com"
    assert body["role"] == "dealer"
    assert body["accounts"] == [
        {"id": str(trade.pk), "name": "Client A", "role": "trade"},
        {"id": str(view.pk), "name": "Client B", "role": "view"},
    ]


def test_session_login_works_for_the_api(login_client, trader):
    response = login_client(trader).get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["role"] == "trader"


@pytest.mark.parametrize(
    "path", ["/api/v1/me", "/api/v1/accounts", "/api/v1/api-keys", "/api/v1/accounts/x"]
)
def test_no_credentials_is_401(api_client, path):
    _assert_error(api_client.get(path), 401, "not_authenticated")


def test_bad_token_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token oms_deadbeef_nope")
    _assert_error(api_client.get("/api/v1/me"), 401, "not_authenticated")


def test_error_shapes_for_400_403_404(make_key_client, viewer, trader):
    account = account_with_member(user=viewer, role="view")
    client = make_key_client(viewer)
    # 403: visible, not allowed
    _assert_error(
        client.patch(f"/api/v1/accounts/{account.pk}", {"name": "n"}, format="json"),
        403,
        "permission_denied",
    )
    # 404: not visible
    other = account_with_member(user=trader)
    _assert_error(client.get(f"/api/v1/accounts/{other.pk}"), 404, "not_found")
    # 400: with fields
    error = _assert_error(
        make_key_client(trader).post("/api/v1/accounts", {"name": "x"}, format="json"),
        400,
        "validation_error",
    )
    assert "broker" in error["fields"] and "starting_cash" in error["fields"]


def test_session_writes_need_csrf(trader):
    from django.test import Client

    # Given a browser session without a CSRF token
    client = Client(enforce_csrf_checks=True)
    client.force_login(trader)
    # When it posts to the API
    response = client.post("/api/v1/api-keys", {"name": "k"}, content_type="application/json")
    # Then it is refused in the error shape
    _assert_error(response, 403, "permission_denied")
