"""Domain errors with stable codes; `oms_site.api.exception_handler` maps them to the API."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A domain error a user can act on. `code` is part of the API contract."""

    code = "application_error"
    status = 400

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.fields = fields or {}
        self.extra = extra or {}


class ValidationFailed(ApplicationError):
    code = "validation_error"
    status = 400


class NotAuthenticated(ApplicationError):
    code = "not_authenticated"
    status = 401


class PermissionDenied(ApplicationError):
    code = "permission_denied"
    status = 403


class NotFound(ApplicationError):
    code = "not_found"
    status = 404


class Conflict(ApplicationError):
    code = "conflict"
    status = 409


class InvalidState(ApplicationError):
    code = "invalid_state"
    status = 409


class RiskRejected(ApplicationError):
    code = "risk_rejected"
    status = 422


class RateLimited(ApplicationError):
    code = "rate_limited"
    status = 429


class BrokerUnavailable(ApplicationError):
    code = "broker_unavailable"
    status = 503
