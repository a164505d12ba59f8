"""`Idempotency-Key` for every POST of the API (accounts, marketdata, notifications, orders,
pnl): one implementation, one table (accounts.IdempotencyKey).

API.md: "An `Idempotency-Key` header does the same for any POST": the same caller, key and
body get the first answer again (a 201 replays as 200, like a re-posted client_order_id);
the same key with another body or path is 409 `conflict`. Error answers (4xx, e.g. an
order's 422 risk rejection) are kept and replayed; 5xx are not (they are worth retrying).
Keys live OMS_IDEMPOTENCY_TTL_HOURS (default 24), purged hourly by
accounts.purge_idempotency_keys.

The key is stored in the SAME transaction as what it protects: the handler runs inside
one `transaction.atomic()` with the key row, and the answer is written to that row before
the commit. So either both the effect (an order) and its answer are committed — a retry
replays it, whatever happened to the client's connection or to work enqueued after the
commit — or neither is, and a retry runs afresh. A second request with the same key
while the first runs waits on the key row's unique index and then replays its answer.

Usage on a DRF view method: `@idempotent_post()` or `@idempotent_post(redact=("key",))` for
answers holding a secret that must be shown once (the replay omits it).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import IdempotencyKey
from oms_site.api import exception_handler
from oms_site.errors import ApplicationError, Conflict, ValidationFailed

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


def _body_hash(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def idempotency_claim(
    *, user: Any, key: str, path: str, request_hash: str
) -> IdempotencyKey | tuple[int, Any]:
    """Claim `key` for this request (the new row) or return the (status, body) to replay."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            f"{HEADER} must be 1–{MAX_KEY_LENGTH} characters.",
            fields={HEADER: [f"1–{MAX_KEY_LENGTH} characters."]},
        )
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                user=user, key=key, path=path, request_hash=request_hash
            )
    except IntegrityError:
        pass
    existing = IdempotencyKey.objects.filter(user=user, key=key).first()
    if existing is None:  # purged between the insert and this read: a retry will work
        raise Conflict(f"The {HEADER} is being reused right now; retry.")
    if existing.path != path or existing.request_hash != request_hash:
        raise Conflict(f"This {HEADER} was already used with a different request.")
    if existing.status_code is None:
        raise Conflict(f"A request with this {HEADER} is still in progress.")
    status = 200 if existing.status_code == 201 else existing.status_code
    return status, existing.response_body


def idempotency_finish(
    *, record: IdempotencyKey, status_code: int, body: Any, redact: Iterable[str] = ()
) -> None:
    if status_code >= 500:
        record.delete()
        return
    stored = json.loads(json.dumps(body, default=str))
    if isinstance(stored, dict):
        for name in redact:
            stored.pop(name, None)
    record.status_code = status_code
    record.response_body = stored
    record.save(update_fields=["status_code", "response_body"])


def idempotency_purge(*, older_than: timedelta | None = None) -> int:
    """Delete keys older than `older_than` (default: OMS_IDEMPOTENCY_TTL_HOURS, 24)."""
    if older_than is None:
        older_than = timedelta(hours=int(getattr(settings, "OMS_IDEMPOTENCY_TTL_HOURS", 24)))
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted


def idempotent_post(*, redact: Iterable[str] = ()) -> Callable:
    """Decorate a DRF view's POST handler so an `Idempotency-Key` header makes it safe to retry."""
    redacted = tuple(redact)

    def decorator(handler: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(handler)
        def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
            key = request.headers.get(HEADER)
            if key is None:
                return handler(view, request, *args, **kwargs)
            request_hash = _body_hash(request.data)  # parsed before the transaction opens
            # An unexpected error (a dependency down, a bug) leaves this block by exception:
            # key and effects roll back together, and the retry runs afresh.
            with transaction.atomic():
                claimed = idempotency_claim(
                    user=request.user, key=key, path=request.path, request_hash=request_hash
                )
                if isinstance(claimed, tuple):
                    status, body = claimed
                    return Response(body, status=status)
                try:
                    response = handler(view, request, *args, **kwargs)
                except (ApplicationError, APIException) as exc:
                    response = exception_handler(exc, {"view": view, "request": request})
                idempotency_finish(
                    record=claimed,
                    status_code=response.status_code,
                    body=response.data,
                    redact=redacted,
                )
            return response

        wrapper.redacted_on_replay = redacted  # type: ignore[attr-defined]  # for the schema
        return wrapper

    return decorator


# For drf-spectacular: `@extend_schema(parameters=[IDEMPOTENCY_PARAMETER])` on the POST.
def _schema_parameter() -> Any:
    from drf_spectacular.utils import OpenApiParameter

    return OpenApiParameter(
        HEADER,
        {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
        OpenApiParameter.HEADER,
        required=False,
        description="Same key + same body replays the first answer (201 → 200); "
        "another body → 409 conflict. An empty or longer key → 400 validation_error.",
    )


IDEMPOTENCY_PARAMETER = _schema_parameter()
