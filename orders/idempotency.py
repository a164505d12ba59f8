"""`Idempotency-Key` for any POST of the orders API: the same key and body replay the
stored answer; the same key with another body is 409 `conflict` (API.md).

The key is claimed by inserting its row before the work runs (unique per user + key), so
two concurrent requests with one key cannot both run; the loser gets 409 while the first
is in flight. Answers of 5xx are not kept (they are worth retrying).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response

from oms_site.api import exception_handler
from oms_site.errors import ApplicationError, Conflict, ValidationFailed
from orders.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


def body_hash(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def idempotency_begin(
    *, user: Any, key: str, path: str, request_hash: str
) -> IdempotencyRecord | tuple[int, Any]:
    """Claim `key` (returns the new record) or return the stored (status, body) to replay."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            f"{HEADER} must be 1–{MAX_KEY_LENGTH} characters.",
            fields={HEADER: [f"1–{MAX_KEY_LENGTH} characters."]},
        )
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(
                user=user, key=key, path=path, request_hash=request_hash
            )
    except IntegrityError:
        pass
    existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if existing is None:  # deleted between the insert and this read: the caller may retry
        raise Conflict(f"The {HEADER} is being reused right now; retry.")
    if existing.path != path or existing.request_hash != request_hash:
        raise Conflict(f"This {HEADER} was already used with a different request.")
    if existing.status_code is None:
        raise Conflict(f"A request with this {HEADER} is still in progress.")
    # A replayed creation answers 200 with the existing object, like client_order_id.
    status = 200 if existing.status_code == 201 else existing.status_code
    return status, existing.response_body


def idempotency_finish(*, record: IdempotencyRecord, status_code: int, body: Any) -> None:
    if status_code >= 500:
        record.delete()
        return
    record.status_code = status_code
    record.response_body = json.loads(json.dumps(body, default=str))
    record.save(update_fields=["status_code", "response_body"])


def idempotency_purge(*, older_than: timedelta = timedelta(days=1)) -> int:
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - older_than
    ).delete()
    return deleted


def idempotent_post(request: Request, view: Any, handler: Callable[[], Response]) -> Response:
    """Run `handler` under the request's Idempotency-Key (if any)."""
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    claimed = idempotency_begin(
        user=request.user, key=key, path=request.path, request_hash=body_hash(request.data)
    )
    if isinstance(claimed, tuple):
        status, body = claimed
        return Response(body, status=status)
    try:
        response = handler()
    except (ApplicationError, APIException) as exc:
        response = exception_handler(exc, {"view": view, "request": request})
    except BaseException:
        claimed.delete()
        raise
    idempotency_finish(record=claimed, status_code=response.status_code, body=response.data)
    return response
