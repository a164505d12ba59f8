"""REST endpoints of an account's broker connection (API.md § Brokers). Thin: check access,
call one service, shape the answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.idempotency import IDEMPOTENCY_PARAMETER, idempotent_post
from accounts.selectors import account_get_for_user
from execution.connections import broker_status_get, connection_test
from execution.serializers import BrokerStatusSerializer, ConnectionCheckSerializer

_ACCOUNT_ID = OpenApiParameter("account_id", str, OpenApiParameter.PATH, description="Account id")
_ERRORS = {
    401: OpenApiResponse(description="not_authenticated"),
    404: OpenApiResponse(description="not_found"),
}


class BrokerStatusView(APIView):
    @extend_schema(
        summary="The account's broker connection status (any member)",
        description=(
            "Paper and exchange accounts trade inside OMS: `connected` (detail: internal "
            "venue) unless their circuit breaker is open. A real-broker account not tested "
            "yet is `disconnected` with the detail “Not checked yet”."
        ),
        parameters=[_ACCOUNT_ID],
        responses={200: BrokerStatusSerializer, **_ERRORS},
    )
    def get(self, request: Request, account_id: str) -> Response:
        account = account_get_for_user(user=request.user, account_id=account_id)
        status = broker_status_get(account=account)
        return Response(BrokerStatusSerializer(status).data)


class BrokerTestView(APIView):
    @extend_schema(
        summary="Test the account's broker connection now (owners and traders of the account)",
        description=(
            "Asks the broker with the stored credentials and records the resulting status "
            "(a change is notified: broker.status_changed). A broker's refusal is `ok: false` "
            "with the reason in words, not an error."
        ),
        parameters=[_ACCOUNT_ID, IDEMPOTENCY_PARAMETER],
        request=None,
        responses={
            200: ConnectionCheckSerializer,
            403: OpenApiResponse(description="permission_denied (view-only members)"),
            **_ERRORS,
        },
    )
    @idempotent_post()
    def post(self, request: Request, account_id: str) -> Response:
        account = account_get_for_user(user=request.user, account_id=account_id, level="trade")
        check = connection_test(account=account)
        return Response(ConnectionCheckSerializer(check).data)
