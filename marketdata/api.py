"""REST endpoints for instruments and market data (API.md). Thin: each calls one service or
selector."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.idempotency import IDEMPOTENCY_PARAMETER, idempotent_post
from marketdata import selectors, services
from marketdata.bars import INTERVALS
from marketdata.serializers import (
    BarSerializer,
    InstrumentCreateSerializer,
    InstrumentSerializer,
    QuoteSerializer,
    TickPushResponseSerializer,
    TickSerializer,
    WatchlistAddSerializer,
    WatchlistItemSerializer,
)
from oms_site.errors import PermissionDenied, ValidationFailed
from oms_site.parsing import query_datetime, query_int, query_int_schema

PUSH_SCOPE = "marketdata:push"
MAX_TICKS_PER_REQUEST = 5000


def _is_admin(request: Request) -> bool:
    user = request.user
    return bool(user and user.is_authenticated and user.is_oms_admin)


class InstrumentListCreateView(ListAPIView):
    serializer_class = InstrumentSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("exchange", str, description="Exchange code, e.g. NSE or SIM."),
            OpenApiParameter("q", str, description="Search in symbol and name."),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        return selectors.instrument_list(exchange=params.get("exchange"), q=params.get("q"))

    @extend_schema(
        parameters=[IDEMPOTENCY_PARAMETER],
        request=InstrumentCreateSerializer,
        responses={201: InstrumentSerializer},
    )
    @idempotent_post()
    def post(self, request: Request) -> Response:
        if not _is_admin(request):
            raise PermissionDenied("Only administrators may create instruments.")
        serializer = InstrumentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instrument = services.instrument_create(**serializer.validated_data)
        return Response(InstrumentSerializer(instrument).data, status=status.HTTP_201_CREATED)


class InstrumentDetailView(APIView):
    @extend_schema(responses=InstrumentSerializer)
    def get(self, request: Request, symbol: str) -> Response:
        instrument = selectors.instrument_get(symbol=symbol)
        return Response(InstrumentSerializer(instrument).data)


class MarketDataView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("symbols", str, description="Comma-separated symbols.")],
        responses={200: inline_serializer("QuoteList", {"results": QuoteSerializer(many=True)})},
    )
    def get(self, request: Request) -> Response:
        raw = request.query_params.get("symbols", "")
        symbols = [selectors.normalize_symbol(s) for s in raw.split(",") if s.strip()]
        if not symbols:
            quotes = selectors.quotes_all()
            return Response({"results": [q.as_api_dict() for q in quotes.values()]})
        if len(symbols) > 1000:
            raise ValidationFailed("At most 1000 symbols.", fields={"symbols": ["Too many."]})
        quotes = selectors.quotes_latest(symbols=symbols)
        known = set(
            selectors.instrument_list().filter(symbol__in=symbols).values_list("symbol", flat=True)
        )
        results = []
        for symbol in dict.fromkeys(symbols):
            if symbol in quotes:
                results.append(quotes[symbol].as_api_dict())
            elif symbol in known:  # an instrument without a tick yet
                results.append(
                    {
                        "symbol": symbol,
                        "last": None,
                        "bid": None,
                        "ask": None,
                        "volume": "0",
                        "ts": None,
                    }
                )
        return Response({"results": results})


class BarsView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("interval", str, enum=list(INTERVALS), default="1m"),
            OpenApiParameter("from", OpenApiTypes.DATETIME),
            OpenApiParameter("to", OpenApiTypes.DATETIME),
            OpenApiParameter(
                "limit",
                query_int_schema(minimum=1),
                description="Max bars (default 300; more than 1000 counts as 1000).",
            ),
        ],
        responses={
            200: inline_serializer(
                "BarList",
                {
                    "symbol": serializers.CharField(),
                    "interval": serializers.CharField(),
                    "results": BarSerializer(many=True),
                },
            )
        },
    )
    def get(self, request: Request, symbol: str) -> Response:
        instrument = selectors.instrument_get(symbol=symbol)
        params = request.query_params
        interval = params.get("interval") or "1m"
        start = query_datetime(params, "from")
        end = query_datetime(params, "to")
        limit = query_int(params, "limit", default=selectors.DEFAULT_BARS, minimum=1)
        bars = selectors.bar_list(
            instrument=instrument, interval=interval, start=start, end=end, limit=limit
        )
        return Response(
            {
                "symbol": instrument.symbol,
                "interval": interval,
                "results": BarSerializer([b.as_dict() for b in bars], many=True).data,
            }
        )


class CanPushTicks(permissions.BasePermission):
    message = "Pushing ticks needs an administrator or an API key with the marketdata:push scope."

    def has_permission(self, request: Request, view: Any) -> bool:
        if _is_admin(request):
            return True
        scopes = getattr(request.auth, "scopes", None) or []
        return PUSH_SCOPE in scopes


class TickPushView(APIView):
    permission_classes = [permissions.IsAuthenticated, CanPushTicks]

    @extend_schema(
        parameters=[IDEMPOTENCY_PARAMETER],
        request=TickSerializer(many=True),
        responses={202: TickPushResponseSerializer},
    )
    @idempotent_post()
    def post(self, request: Request) -> Response:
        payload = request.data
        ticks = payload if isinstance(payload, list) else [payload]
        if not ticks:
            raise ValidationFailed("Send a tick or a non-empty list of ticks.")
        if len(ticks) > MAX_TICKS_PER_REQUEST:
            raise ValidationFailed(f"At most {MAX_TICKS_PER_REQUEST} ticks per request.")
        results = services.ticks_ingest(ticks=ticks, source="api", strict=True)
        accepted = sum(1 for r in results if r.applied)
        return Response(
            {
                "accepted": accepted,
                "dropped": len(results) - accepted,
                "results": [r.as_dict() for r in results],
            },
            status=status.HTTP_202_ACCEPTED,
        )


class WatchlistView(APIView):
    @extend_schema(
        responses={
            200: inline_serializer("Watchlist", {"results": WatchlistItemSerializer(many=True)})
        }
    )
    def get(self, request: Request) -> Response:
        items = selectors.watchlist_items(user=request.user)
        return Response({"results": WatchlistItemSerializer(items, many=True).data})

    @extend_schema(
        parameters=[IDEMPOTENCY_PARAMETER],
        request=WatchlistAddSerializer,
        responses={201: WatchlistItemSerializer},
    )
    @idempotent_post()
    def post(self, request: Request) -> Response:
        serializer = WatchlistAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = services.watchlist_add(user=request.user, symbol=serializer.validated_data["symbol"])
        return Response(WatchlistItemSerializer(item).data, status=status.HTTP_201_CREATED)


class WatchlistItemView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, symbol: str) -> Response:
        services.watchlist_remove(user=request.user, symbol=symbol)
        return Response(status=status.HTTP_204_NO_CONTENT)
