"""REST endpoints of execution (API.md: order book). Thin: parse, call one selector."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from execution.selectors import orderbook_get, parse_depth
from execution.serializers import OrderBookSerializer


class OrderBookView(APIView):
    @extend_schema(
        summary="Depth of the internal exchange's order book for a symbol",
        parameters=[
            OpenApiParameter("symbol", str, OpenApiParameter.PATH),
            OpenApiParameter(
                "depth", int, OpenApiParameter.QUERY, description="Levels per side, 1-50 (10)."
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
        depth = parse_depth(request.query_params.get("depth"))
        return Response(orderbook_get(symbol=symbol, depth=depth))
