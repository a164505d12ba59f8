"""REST endpoints of pnl. Thin: parse, call one selector or service, shape."""

from __future__ import annotations

import uuid
from datetime import date

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.idempotency import IDEMPOTENCY_PARAMETER, idempotent_post
from accounts.models import ApiKey
from oms_site.api import error_responses
from oms_site.errors import PermissionDenied, ValidationFailed
from oms_site.parsing import query_date
from pnl import reports, selectors, services
from pnl.models import Fill, Position
from pnl.serializers import (
    FillSerializer,
    PnlReportSerializer,
    PositionCloseInputSerializer,
    PositionCloseOutputSerializer,
    PositionSerializer,
    SnapshotInputSerializer,
    SnapshotOutputSerializer,
)

_ERRORS = error_responses(
    400, 401, 404, descriptions={404: "not_found (an account you cannot see)"}
)


def _uuid_param(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise ValidationFailed(
            f"{name}: not a valid id.", fields={name: ["Not a valid id."]}
        ) from exc


def _api_key(request: Request) -> ApiKey | None:
    return request.auth if isinstance(request.auth, ApiKey) else None


class FillListView(GenericAPIView):
    serializer_class = FillSerializer
    queryset = Fill.objects.none()  # schema only; reads go through selectors

    @extend_schema(
        summary="Fills of the accounts the caller may see, newest first",
        parameters=[
            OpenApiParameter("account", str, description="Account id"),
            OpenApiParameter("symbol", str, description="Instrument symbol"),
            OpenApiParameter("order", str, description="Order id"),
        ],
        responses={
            200: FillSerializer(many=True),
            400: OpenApiResponse(description="validation_error"),
            401: OpenApiResponse(description="not_authenticated"),
        },
    )
    def get(self, request: Request) -> Response:
        filters = {
            "account": _uuid_param(request, "account"),
            "order": _uuid_param(request, "order"),
            "symbol": request.query_params.get("symbol") or None,
        }
        page = self.paginate_queryset(selectors.fill_list(user=request.user, filters=filters))
        return self.get_paginated_response(FillSerializer(page, many=True).data)


class PositionListView(GenericAPIView):
    serializer_class = PositionSerializer
    queryset = Position.objects.none()  # schema only; reads go through selectors

    @extend_schema(
        summary="Positions per (account, symbol), marked to the latest quote",
        description=(
            "Open positions, and flat ones that traded today (UTC), of the accounts the "
            "caller may see. qty is signed (short < 0); realized_pnl and fees are "
            "cumulative and exclude nothing but each other (net = realized + unrealized - "
            "fees). market_price/market_value/unrealized_pnl are null for an open position "
            "whose symbol has no quote yet."
        ),
        parameters=[
            OpenApiParameter("account", str, description="Account id (404 if not visible)"),
            OpenApiParameter("symbol", str, description="Instrument symbol"),
        ],
        responses={200: PositionSerializer(many=True), **_ERRORS},
    )
    def get(self, request: Request) -> Response:
        rows = selectors.position_list(
            user=request.user,
            account_id=_uuid_param(request, "account"),
            symbol=request.query_params.get("symbol") or None,
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(PositionSerializer(page, many=True).data)


class PositionCloseView(GenericAPIView):
    serializer_class = PositionCloseInputSerializer

    @extend_schema(
        summary="Flatten positions with market orders",
        description=(
            "One market order per open position of the account (or of `symbol`) for its "
            "whole quantity on the opposite side, after the account's open orders in that "
            "symbol were canceled (an order that filled meanwhile is part of the position "
            "closed; one that cannot be canceled refuses the symbol with 503 "
            "broker_unavailable and `order_ids`). Returns the orders placed. With `symbol`, "
            "a refusal is returned as that error (e.g. 422 risk_rejected with order_id); "
            "closing all, refusals per symbol are listed in `errors` unless none could be "
            'placed. No open position → `{"orders": []}`. With an Idempotency-Key header a '
            "retry returns the orders already placed instead of closing twice."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=PositionCloseInputSerializer,
        responses={
            200: PositionCloseOutputSerializer,
            403: OpenApiResponse(description="permission_denied (view-only member)"),
            422: OpenApiResponse(description="risk_rejected"),
            503: OpenApiResponse(description="broker_unavailable"),
            **_ERRORS,
        },
    )
    @idempotent_post()
    def post(self, request: Request) -> Response:
        data = PositionCloseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.positions_close(
            user=request.user,
            api_key=_api_key(request),
            account_id=data.validated_data["account"],
            symbol=data.validated_data.get("symbol") or None,
        )
        body: dict = {"orders": result.orders}
        if result.errors:
            body["errors"] = result.errors
        return Response(body)


class PnlView(GenericAPIView):
    serializer_class = PnlReportSerializer
    pagination_class = None

    @extend_schema(
        summary="Realized, unrealized, fees and net PnL, by symbol, by tag and by day",
        description=reports.__doc__,
        parameters=[
            OpenApiParameter("account", str, description="Account id (default: all visible)"),
            OpenApiParameter("from", date, description="First UTC day, YYYY-MM-DD"),
            OpenApiParameter("to", date, description="Last UTC day, YYYY-MM-DD"),
        ],
        responses={200: PnlReportSerializer, **_ERRORS},
    )
    def get(self, request: Request) -> Response:
        report = reports.pnl_report(
            user=request.user,
            account_id=_uuid_param(request, "account"),
            date_from=query_date(request.query_params, "from"),
            date_to=query_date(request.query_params, "to"),
        )
        return Response(PnlReportSerializer(report).data)


class PnlSnapshotView(GenericAPIView):
    serializer_class = SnapshotInputSerializer
    pagination_class = None

    @extend_schema(
        summary="Take the daily PnL snapshot now (admins)",
        parameters=[IDEMPOTENCY_PARAMETER],
        request=SnapshotInputSerializer,
        responses={
            201: SnapshotOutputSerializer,
            403: OpenApiResponse(description="permission_denied"),
            **_ERRORS,
        },
    )
    @idempotent_post()
    def post(self, request: Request) -> Response:
        if not request.user.is_oms_admin:
            raise PermissionDenied("Only admins may take PnL snapshots.")
        data = SnapshotInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.pnl_snapshot_take(
            day=data.validated_data.get("date"), account_id=data.validated_data.get("account")
        )
        return Response(SnapshotOutputSerializer(result).data, status=201)
