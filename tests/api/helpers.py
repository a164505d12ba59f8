"""Helpers of the API contract suite: an HTTP caller, keys from `issue_api_key`, the error
shape, the order body of API.md."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from django.core.management import call_command
from rest_framework.test import APIClient

from tests.factories import MembershipFactory

API = "/api/v1"
SIM_INSTRUMENT = {
    "symbol": "ACME",
    "exchange": "SIM",
    "name": "Acme Corporation",
    "tick_size": "0.05",
    "lot_size": 1,
    "currency": "INR",
}


def issue_key(
    username: str,
    *,
    role: str | None = "trader",
    create: bool = True,
    scopes: list[str] = (),  # type: ignore[assignment]
) -> str:
    """`manage.py issue_api_key USERNAME [--create] [--role ROLE]` → the key (last line)."""
    args = [username]
    if create:
        args.append("--create")
    if role is not None:
        args += ["--role", role]
    for scope in scopes:
        args += ["--scope", scope]
    out = io.StringIO()
    call_command("issue_api_key", *args, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


class Api:
    """A caller of the HTTP API. Paths are relative to /api/v1 unless they start with /."""

    def __init__(self, client: APIClient, capture: Callable[..., Any], username: str = "") -> None:
        self.client = client
        self.capture = capture
        self.username = username

    @staticmethod
    def url(path: str) -> str:
        return path if path.startswith(API) or path.startswith("/ws") else f"{API}{path}"

    def get(self, path: str, params: dict[str, Any] | None = None, **extra: Any):
        return self.client.get(self.url(path), params or {}, **extra)

    def _write(self, method: str, path: str, body: Any = None, **extra: Any):
        call = getattr(self.client, method)
        with self.capture(execute=True):
            if body is None:
                return call(self.url(path), **extra)
            return call(self.url(path), body, format="json", **extra)

    def post(self, path: str, body: Any = None, **extra: Any):
        return self._write("post", path, body, **extra)

    def patch(self, path: str, body: Any = None, **extra: Any):
        return self._write("patch", path, body, **extra)

    def put(self, path: str, body: Any = None, **extra: Any):
        return self._write("put", path, body, **extra)

    def delete(self, path: str, **extra: Any):
        return self._write("delete", path, **extra)


def open_account(api: Api, *, name: str = "Main", broker: str = "paper", cash: str = "1000000"):
    response = api.post("/accounts", {"name": name, "broker": broker, "starting_cash": cash})
    assert response.status_code == 201, response.content
    return response.json()


def grant(api: Api, account: dict[str, Any], role: str) -> None:
    """Back office: give the user behind `api` a membership (`view`|`trade`) on `account`."""
    from accounts.models import TradingAccount, User

    MembershipFactory(
        user=User.objects.get(username=api.username),
        account=TradingAccount.objects.get(pk=account["id"]),
        role=role,
    )


def assert_error(
    response, status: int, code: str, *, field: str | None = None, extra: set[str] = frozenset()
) -> dict:
    """The one error shape: {"error": {"code", "message", "fields"?}} (+ documented extras at the
    top level, e.g. order_id of a risk rejection)."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) - {"error"} <= set(extra), body
    error = body["error"]
    assert error["code"] == code, body
    assert isinstance(error["message"], str) and error["message"].strip(), body
    assert set(error) <= {"code", "message", "fields"}, body
    if "fields" in error:
        assert isinstance(error["fields"], dict), body
        for name, messages in error["fields"].items():
            assert isinstance(name, str) and isinstance(messages, list) and messages, body
            assert all(isinstance(m, str) for m in messages), body
    if field is not None:
        assert field in error.get("fields", {}), body
    return body


def order_body(account: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """The POST /orders body of API.md, verbatim (every key present, nulls included)."""
    body = {
        "account": account["id"],
        "symbol": "ACME",
        "side": "buy",
        "type": "limit",
        "qty": "100",
        "limit_price": "10.00",
        "stop_price": None,
        "trail_price": None,
        "trail_percent": None,
        "time_in_force": "day",
        "expire_at": None,
        "display_qty": None,
        "order_class": "simple",
        "take_profit": None,
        "stop_loss": None,
        "client_order_id": None,
        "tag": "optional free text",
    }
    body.update(overrides)
    return body


def paginated(response) -> dict[str, Any]:
    assert response.status_code == 200, response.content[:500]
    body = response.json()
    assert set(body) >= {"count", "next", "previous", "results"}, body
    assert isinstance(body["count"], int) and isinstance(body["results"], list)
    return body
