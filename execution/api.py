"""REST endpoints of execution (API.md: order book). Thin: parse, call one selector."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from execution.exchange.depth import MAX_DEPTH
from execution.selectors import DEFAULT_DEPTH, orderbook_get
from execution.serializers import OrderBookSerializer
from oms_site.parsing import query_int, query_int_schema


class OrderBookView(APIView):
    @extend_schema(
        summary="Depth of the internal exchange's order book for a symbol",
        parameters=[
            OpenApiParameter("symbol", str, OpenApiParameter.PATH),
            OpenApiParameter(
                "depth",
                query_int_schema(minimum=1, maximum=MAX_DEPTH),
                OpenApiParameter.QUERY,
                description=f"Levels per side, 1-{MAX_DEPTH} (default {DEFAULT_DEPTH}).",
            ),
        ],
        responses={
            200: OrderBookSerializer,
            400: OpenApiResponse(description="validation_error"),
            401: OpenApiResponse(description="not_authenticated"),
            404: OpenApiResponse(description="not_found"),
        },
    )
    def get(self, request: Request, symbol: str) -> Response:
        params = request.query_params
        depth = query_int(params, "depth", default=DEFAULT_DEPTH, minimum=1, maximum=MAX_DEPTH)
        return Response(orderbook_get(symbol=symbol, depth=depth))
