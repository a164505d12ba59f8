"""REST endpoints of strategies and signals (API.md § Strategies and signals). Thin:
parse, call one service, shape. Only the owner reaches a strategy (others: 404).

The webhook `POST /api/v1/signals/{strategy_id}` has no session or API key: the strategy's
secret signs the body (SignalSignatureAuthentication), whose owner becomes the request's
user, so an Idempotency-Key works there as on every other POST. The same path answers
`GET` (a signal, for its owner) with the usual authentication.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.authentication import BaseAuthentication
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import BaseParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.idempotency import IDEMPOTENCY_PARAMETER, idempotent_post
from oms_site.api import error_responses
from strategies import selectors, services
from strategies.models import Signal, Strategy
from strategies.serializers import (
    SignalAcceptedSerializer,
    SignalBodySerializer,
    SignalSerializer,
    StrategyInputSerializer,
    StrategySerializer,
    StrategyWithSecretSerializer,
)

_STRATEGY_ID = OpenApiParameter(
    "strategy_id", str, OpenApiParameter.PATH, description="Strategy id"
)
_SIGNAL_ID = OpenApiParameter(
    "signal_id", str, OpenApiParameter.PATH, description="Signal id (GET) or strategy id (POST)"
)
SIGNATURE_HEADER = "X-Signature"


def _with_secret(issued: services.IssuedStrategy, request: Request) -> dict[str, Any]:
    data = StrategySerializer(issued.strategy, context={"request": request}).data
    return {**data, "webhook_secret": issued.secret}


class StrategyListCreateView(GenericAPIView):
    serializer_class = StrategySerializer
    queryset = Strategy.objects.none()

    @extend_schema(
        summary="The caller's strategies",
        responses={200: StrategySerializer(many=True), **error_responses(400, 401)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.strategy_list(user=request.user))
        data = StrategySerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)

    @extend_schema(
        summary="Create a strategy; the answer shows its webhook secret once",
        description=(
            "accounts: only accounts the caller may trade on (else 400 naming the account); "
            "sizing per account, rounded down to the lot size; symbols: alert ticker → our "
            "symbol. The secret is not in an Idempotency-Key replay: rotate it if lost."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=StrategyInputSerializer,
        responses={201: StrategyWithSecretSerializer, **error_responses(400, 401)},
    )
    @idempotent_post(redact=("webhook_secret",))
    def post(self, request: Request) -> Response:
        serializer = StrategyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = services.strategy_create(user=request.user, **serializer.service_values())
        return Response(_with_secret(issued, request), status=201)


class StrategyDetailView(GenericAPIView):
    serializer_class = StrategySerializer
    queryset = Strategy.objects.none()

    @extend_schema(
        summary="One strategy",
        parameters=[_STRATEGY_ID],
        responses={200: StrategySerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, strategy_id: str) -> Response:
        strategy = selectors.strategy_get_for_user(user=request.user, strategy_id=strategy_id)
        return Response(StrategySerializer(strategy, context={"request": request}).data)

    @extend_schema(
        operation_id="strategies_update",
        summary="Change a strategy (accounts, when given, replace the list)",
        parameters=[_STRATEGY_ID],
        request=StrategyInputSerializer(partial=True),
        responses={200: StrategySerializer, **error_responses(400, 401, 404)},
    )
    def patch(self, request: Request, strategy_id: str) -> Response:
        serializer = StrategyInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        strategy = services.strategy_update(
            user=request.user, strategy_id=strategy_id, **serializer.service_values()
        )
        return Response(StrategySerializer(strategy, context={"request": request}).data)

    @extend_schema(
        operation_id="strategies_delete",
        summary="Delete a strategy (its signal log stays; its webhook answers 404)",
        parameters=[_STRATEGY_ID],
        request=None,
        responses={204: OpenApiResponse(description="deleted"), **error_responses(401, 404)},
    )
    def delete(self, request: Request, strategy_id: str) -> Response:
        services.strategy_delete(user=request.user, strategy_id=strategy_id)
        return Response(status=204)


def _paused(request: Request, strategy_id: str, *, paused: bool) -> Response:
    strategy = services.strategy_set_paused(
        user=request.user, strategy_id=strategy_id, paused=paused
    )
    return Response(StrategySerializer(strategy, context={"request": request}).data)


_ACTION_SCHEMA = {
    "parameters": [_STRATEGY_ID, IDEMPOTENCY_PARAMETER],
    "request": None,
    "responses": {200: StrategySerializer, **error_responses(401, 404)},
}


class StrategyPauseView(GenericAPIView):
    serializer_class = StrategySerializer
    queryset = Strategy.objects.none()

    @extend_schema(
        summary="Pause: its signals are refused (409), stored and logged", **_ACTION_SCHEMA
    )
    @idempotent_post()
    def post(self, request: Request, strategy_id: str) -> Response:
        return _paused(request, strategy_id, paused=True)


class StrategyResumeView(GenericAPIView):
    serializer_class = StrategySerializer
    queryset = Strategy.objects.none()

    @extend_schema(summary="Resume taking signals", **_ACTION_SCHEMA)
    @idempotent_post()
    def post(self, request: Request, strategy_id: str) -> Response:
        return _paused(request, strategy_id, paused=False)


class StrategyRotateSecretView(GenericAPIView):
    serializer_class = StrategyWithSecretSerializer
    queryset = Strategy.objects.none()

    @extend_schema(
        summary="A new webhook secret (shown once); the old one stops working",
        parameters=[_STRATEGY_ID, IDEMPOTENCY_PARAMETER],
        request=None,
        responses={200: StrategyWithSecretSerializer, **error_responses(401, 404)},
    )
    @idempotent_post(redact=("webhook_secret",))
    def post(self, request: Request, strategy_id: str) -> Response:
        issued = services.strategy_rotate_secret(user=request.user, strategy_id=strategy_id)
        return Response(_with_secret(issued, request))


class StrategySignalsView(GenericAPIView):
    serializer_class = SignalSerializer
    queryset = Signal.objects.none()

    @extend_schema(
        summary="The strategy's signal log with per-account outcomes, newest first",
        parameters=[_STRATEGY_ID],
        responses={200: SignalSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request: Request, strategy_id: str) -> Response:
        strategy = selectors.strategy_get_for_user(user=request.user, strategy_id=strategy_id)
        page = self.paginate_queryset(selectors.signal_list(strategy=strategy))
        return self.get_paginated_response(SignalSerializer(page, many=True).data)


# --- the webhook -----------------------------------------------------------------------------


class RawBodyParser(BaseParser):
    """Any content type: the service reads the raw body (JSON inside; TradingView sends
    text/plain). `request.data` is the text, for the Idempotency-Key fingerprint."""

    media_type = "*/*"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> str:
        raw = stream.read() if stream is not None else b""
        return raw.decode("utf-8", errors="replace")


class SignalSignatureAuthentication(BaseAuthentication):
    """The strategy named in the path, if the body is signed with its secret (X-Signature)
    or carries it ("secret"). user = the strategy's owner, auth = the strategy.
    Unknown strategy → 404; bad signature → 401 (counted on the strategy, logged)."""

    def authenticate(self, request: Request) -> tuple[Any, Strategy]:
        strategy = services.signal_authenticate(
            strategy_id=request.parser_context["kwargs"].get("signal_id"),
            raw_body=request._request.body,  # the exact bytes that were signed
            signature=request.headers.get(SIGNATURE_HEADER),
        )
        return strategy.owner, strategy

    def authenticate_header(self, request: Request) -> str:
        return SIGNATURE_HEADER


class SignalView(GenericAPIView):
    serializer_class = SignalSerializer
    queryset = Signal.objects.none()

    def _is_webhook(self) -> bool:
        request = getattr(self, "request", None)  # None while the schema is generated
        return request is not None and request.method == "POST"

    def get_authenticators(self) -> list[BaseAuthentication]:
        if self._is_webhook():
            return [SignalSignatureAuthentication()]
        return super().get_authenticators()

    def get_parsers(self) -> list[BaseParser]:
        if self._is_webhook():
            return [RawBodyParser()]
        return super().get_parsers()

    def get_permissions(self) -> list[Any]:
        return [IsAuthenticated()]

    @extend_schema(
        summary="One signal with its per-account outcomes",
        parameters=[_SIGNAL_ID],
        responses={200: SignalSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, signal_id: str) -> Response:
        signal = selectors.signal_get_for_user(user=request.user, signal_id=signal_id)
        return Response(SignalSerializer(signal).data)

    @extend_schema(
        operation_id="signals_receive",
        summary="The webhook: a signal for the strategy {signal_id} (= the strategy id)",
        description=(
            "No session or API key. Authenticated by `X-Signature` (hex HMAC-SHA256 of the "
            'raw body with the strategy\'s secret) or by `"secret"` in the body. Any '
            "content type (TradingView sends text/plain); the body is JSON. 202 once the "
            "signal is stored (the fan-out runs on the queue); an `id` seen before → 200 "
            "with the first answer; a `ts` outside the replay window → 409 conflict; "
            "paused or outside the trading window → 409 invalid_state (stored as refused); "
            "over the strategy's rate limit → 429; unmapped symbol or bad body → 400."
        ),
        auth=[],
        parameters=[
            _SIGNAL_ID,
            IDEMPOTENCY_PARAMETER,
            OpenApiParameter(
                SIGNATURE_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=False,
                description="hex HMAC-SHA256 of the raw body with the strategy's secret",
            ),
        ],
        request={"application/json": SignalBodySerializer, "text/plain": SignalBodySerializer},
        responses={
            202: SignalAcceptedSerializer,
            200: OpenApiResponse(
                SignalAcceptedSerializer,
                description="a replayed id: the first answer's body (a refusal's error too)",
            ),
            **error_responses(400, 401, 404, 409),
            429: OpenApiResponse(description="rate_limited: the strategy's signals a minute"),
        },
    )
    @idempotent_post()
    def post(self, request: Request, signal_id: str) -> Response:
        answer = services.signal_receive(strategy=request.auth, raw_body=request._request.body)
        return Response(answer.body, status=answer.status)
