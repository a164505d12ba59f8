"""REST endpoints of the Kite login and postbacks (API.md § Brokers). Thin: one service each."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.idempotency import IDEMPOTENCY_PARAMETER, idempotent_post
from accounts.selectors import account_get_for_user
from execution import services_kite
from execution.serializers_kite import (
    BrokerStatusSerializer,
    KiteLoginUrlSerializer,
    KitePostbackResultSerializer,
    KitePostbackSerializer,
    KiteSessionSerializer,
)

_ACCOUNT_ID = OpenApiParameter("account_id", str, OpenApiParameter.PATH, description="Account id")
_ERRORS = {
    400: OpenApiResponse(description="validation_error"),
    401: OpenApiResponse(description="not_authenticated"),
    403: OpenApiResponse(description="permission_denied"),
    404: OpenApiResponse(description="not_found"),
    409: OpenApiResponse(description="invalid_state (not a Kite account, no api_key)"),
}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: _ERRORS[code] for code in codes}


class KiteLoginUrlView(APIView):
    @extend_schema(
        summary="Where to log in to Kite for the day (Kite then redirects with a request_token)",
        parameters=[_ACCOUNT_ID],
        responses={200: KiteLoginUrlSerializer, **_errors(401, 403, 404, 409)},
    )
    def get(self, request: Request, account_id: str) -> Response:
        account = account_get_for_user(user=request.user, account_id=account_id, level="trade")
        return Response({"login_url": services_kite.kite_login_url_get(account=account)})


class KiteSessionView(APIView):
    @extend_schema(
        summary="Complete the daily Kite login with the request_token → the broker status",
        parameters=[_ACCOUNT_ID, IDEMPOTENCY_PARAMETER],
        request=KiteSessionSerializer,
        responses={200: BrokerStatusSerializer, **_errors(400, 401, 403, 404, 409)},
    )
    @idempotent_post()
    def post(self, request: Request, account_id: str) -> Response:
        account = account_get_for_user(user=request.user, account_id=account_id, level="trade")
        serializer = KiteSessionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        status = services_kite.kite_session_complete(
            account=account, actor=request.user, **serializer.validated_data
        )
        return Response(BrokerStatusSerializer(status).data)


class KitePostbackView(APIView):
    # Kite calls this, not a user: the checksum (with the account's api_secret) is the
    # authentication. No throttle: Kite posts once per order update, from a few addresses.
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    @extend_schema(
        summary="Kite's order postback (checksum-verified; applied once, however often sent)",
        parameters=[_ACCOUNT_ID],
        request=KitePostbackSerializer,
        responses={
            200: KitePostbackResultSerializer,
            400: _ERRORS[400],
            403: OpenApiResponse(description="permission_denied (checksum does not match)"),
            404: _ERRORS[404],
            503: OpenApiResponse(description="broker_unavailable (Kite could not be read)"),
        },
        auth=[],
    )
    def post(self, request: Request, account_id: str) -> Response:
        count = services_kite.kite_postback_apply(account_id=account_id, payload=request.data)
        return Response({"ok": True, "reports": count})
