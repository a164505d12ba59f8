"""REST endpoints of orders (API.md § Orders). Thin: parse, call one service, shape."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.idempotency import IDEMPOTENCY_PARAMETER, idempotent_post
from oms_site.api import error_body, format_decimal
from oms_site.errors import ApplicationError, ValidationFailed
from oms_site.parsing import query_bool, query_datetime
from orders import services
from orders.api.common import (
    ORDER_ID_PARAMETER,
    error_responses,
    request_api_key,
    serializer_error,
)
from orders.api.serializers import (
    BatchResultSerializer,
    CancelAllResultSerializer,
    OrderBatchInputSerializer,
    OrderInputSerializer,
    OrderModifySerializer,
    PreviewResultSerializer,
)
from orders.core import selectors
from orders.core.serializers import (
    OrderEventSerializer,
    OrderSerializer,
    order_data_current,
)
from orders.models import Order, OrderStatus


class OrderListCreateView(GenericAPIView):
    serializer_class = OrderSerializer
    queryset = Order.objects.none()  # schema only; reads go through selectors

    @extend_schema(
        summary="The blotter: orders of the accounts the caller may see, newest first",
        parameters=[
            OpenApiParameter("account", str, description="Account id"),
            OpenApiParameter("symbol", str),
            OpenApiParameter("status", str, enum=["open", "closed", "all", *OrderStatus.values]),
            OpenApiParameter("side", str, enum=["buy", "sell"]),
            OpenApiParameter("after", OpenApiTypes.DATETIME, description="created at or after"),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description="created at or before"),
            OpenApiParameter(
                "parent",
                OpenApiTypes.UUID,
                description="an order id: its exit legs and algo children",
            ),
            OpenApiParameter(
                "top_level", bool, description="1: only orders without a parent (no legs/slices)"
            ),
        ],
        responses={200: OrderSerializer(many=True), **error_responses(400, 401)},
    )
    def get(self, request: Request) -> Response:
        filters = {
            "account": request.query_params.get("account"),
            "symbol": request.query_params.get("symbol"),
            "status": request.query_params.get("status"),
            "side": request.query_params.get("side"),
            "after": query_datetime(request.query_params, "after"),
            "until": query_datetime(request.query_params, "until"),
            "parent": request.query_params.get("parent"),
            "top_level": query_bool(request.query_params, "top_level"),
        }
        page = self.paginate_queryset(selectors.order_list(user=request.user, filters=filters))
        return self.get_paginated_response(OrderSerializer(page, many=True).data)

    @extend_schema(
        summary="Place an order",
        description=(
            "Validated (lot/tick grid, required prices per type, TIF rules) and risk-checked "
            "before anything is sent. 201: accepted (pending_new, or held for a stop trigger "
            "or the market open). 200: the same client_order_id and body again. 422: stored "
            "as rejected, the body carries order_id.\n\n"
            "order_class bracket: entry + take_profit {limit_price} + stop_loss {stop_price, "
            "limit_price?}; the exit legs are created when the entry fills, for the filled "
            "quantity, and live as an OCO pair (a buy bracket's take-profit above the entry "
            "price and stop below; a sell bracket mirrored). oco: type limit; the order is the "
            "take-profit limit (take_profit.limit_price) with a held stop-loss leg. oto: entry "
            "+ one of take_profit / stop_loss.\n\n"
            "algo {type: twap|vwap, horizon_secs, interval_secs, limit_price?, randomize_pct?} "
            "or {type: iceberg, display_qty}: the order becomes a parent (status new) that "
            "releases child orders (parent_id = it); `algo` in the answer shows progress. "
            "Pause/resume: POST /orders/{id}/pause, /resume.\n\n"
            "reentry {max_retries, reprice_ticks?}: a rejected order is placed again up to "
            "max_retries times, its limit moved reprice_ticks ticks towards the market each time."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=OrderInputSerializer,
        responses={
            201: OrderSerializer,
            200: OrderSerializer,
            **error_responses(400, 401, 403, 409, 422),
        },
    )
    @idempotent_post()
    def post(self, request: Request) -> Response:
        serializer = OrderInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.order_place(
            user=request.user,
            api_key=request_api_key(request),
            paced=True,
            **serializer.to_service_kwargs(),
        )
        return Response(order_data_current(result.order), status=201 if result.created else 200)

    @extend_schema(
        operation_id="orders_cancel_all",
        summary="Cancel all open orders of an account (optionally one symbol)",
        parameters=[
            OpenApiParameter("account", str, required=True, description="Account id"),
            OpenApiParameter("symbol", str),
        ],
        responses={200: CancelAllResultSerializer, **error_responses(400, 401, 403, 404)},
    )
    def delete(self, request: Request) -> Response:
        account_id = request.query_params.get("account")
        if not account_id:
            raise ValidationFailed(
                "account: required to cancel all orders.", fields={"account": ["Required."]}
            )
        result = services.order_cancel_all(
            user=request.user,
            api_key=request_api_key(request),
            account_id=account_id,
            symbol=request.query_params.get("symbol") or None,
        )
        body: dict[str, Any] = {"canceled": result.canceled}
        if result.failed:
            body["failed"] = result.failed
        return Response(body)


class OrderDetailView(GenericAPIView):
    serializer_class = OrderSerializer
    queryset = Order.objects.none()

    @extend_schema(
        summary="One order, with its legs",
        parameters=[ORDER_ID_PARAMETER],
        responses={200: OrderSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, order_id: str) -> Response:
        order = selectors.order_get_for_user(user=request.user, order_id=order_id)
        return Response(OrderSerializer(order).data)

    @extend_schema(
        operation_id="orders_modify",
        summary="Modify in place (the id stays, version goes up)",
        parameters=[ORDER_ID_PARAMETER],
        request=OrderModifySerializer,
        responses={200: OrderSerializer, **error_responses(400, 401, 403, 404, 409, 422, 503)},
    )
    def patch(self, request: Request, order_id: str) -> Response:
        serializer = OrderModifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = services.order_modify(
            user=request.user,
            api_key=request_api_key(request),
            order_id=order_id,
            **serializer.validated_data,
        )
        return Response(OrderSerializer(order).data)

    @extend_schema(
        operation_id="orders_cancel",
        summary="Cancel (200 with the order: pending_cancel or canceled)",
        parameters=[ORDER_ID_PARAMETER],
        request=None,
        responses={200: OrderSerializer, **error_responses(401, 403, 404, 409, 503)},
    )
    def delete(self, request: Request, order_id: str) -> Response:
        order = services.order_cancel(
            user=request.user, api_key=request_api_key(request), order_id=order_id
        )
        return Response(OrderSerializer(order).data)


class OrderEventsView(GenericAPIView):
    serializer_class = OrderEventSerializer
    queryset = Order.objects.none()

    @extend_schema(
        summary="The order's append-only audit trail, oldest first",
        parameters=[ORDER_ID_PARAMETER],
        responses={200: OrderEventSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request: Request, order_id: str) -> Response:
        order = selectors.order_get_for_user(user=request.user, order_id=order_id)
        page = self.paginate_queryset(selectors.order_events(order=order))
        return self.get_paginated_response(OrderEventSerializer(page, many=True).data)


def _item_error(exc: ApplicationError) -> dict[str, Any]:
    body = error_body(exc.code, exc.message, exc.fields or None)
    return body["error"]


class OrderBatchView(GenericAPIView):
    serializer_class = BatchResultSerializer
    queryset = Order.objects.none()

    @extend_schema(
        summary="Place up to 100 orders, each judged on its own (207)",
        parameters=[IDEMPOTENCY_PARAMETER],
        request=OrderBatchInputSerializer,
        responses={207: BatchResultSerializer, **error_responses(400, 401)},
    )
    @idempotent_post()
    def post(self, request: Request) -> Response:
        batch = OrderBatchInputSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        parsed: list[tuple[int, dict[str, Any] | None, dict[str, Any] | None]] = [
            (index, kwargs, None if errors is None else serializer_error(errors))
            for index, (kwargs, errors) in enumerate(
                OrderInputSerializer().parse_each(batch.validated_data["orders"])
            )
        ]
        kwargs_list = [kwargs for _, kwargs, _ in parsed if kwargs is not None]
        placed = iter(
            services.order_place_batch(
                user=request.user, api_key=request_api_key(request), orders=kwargs_list, paced=True
            )
        )
        results = []
        for _index, kwargs, error in parsed:
            if kwargs is None:
                results.append({"status": 400, "error": error})
                continue
            status, order, exc = next(placed)
            item: dict[str, Any] = {"status": status}
            if order is not None:
                item["order"] = order_data_current(order)
            if exc is not None:
                item["error"] = _item_error(exc)
                if "order_id" in exc.extra:
                    item["order_id"] = exc.extra["order_id"]
            results.append(item)
        return Response({"results": results}, status=207)


class OrderPreviewView(GenericAPIView):
    serializer_class = PreviewResultSerializer
    queryset = Order.objects.none()

    @extend_schema(
        operation_id="orders_preview",
        summary="Dry run: validation and every risk check, nothing stored",
        description=(
            "Same body as placing. 400/403 exactly as placing; otherwise 200 with `ok`, "
            "the outcome placing would have, the risk check's answer in plain words, the "
            "estimated value and the buying power."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=OrderInputSerializer,
        responses={200: PreviewResultSerializer, **error_responses(400, 401, 403)},
    )
    @idempotent_post()
    def post(self, request: Request) -> Response:
        serializer = OrderInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        kwargs = serializer.to_service_kwargs()
        decision, ctx, instrument = services.order_preview(user=request.user, **kwargs)
        if not decision.ok:
            outcome = "rejected"
        elif kwargs["order_type"] in ("stop", "stop_limit", "trailing_stop"):
            outcome = "held"
        elif decision.queue_for_open:
            outcome = "queued_for_open"
        else:
            outcome = "accepted"
        message = (
            decision.message
            or {
                "accepted": "All risk checks pass: the order would be sent now.",
                "held": "All risk checks pass: the order would be held until its stop triggers.",
                "queued_for_open": "All risk checks pass: the order would wait for the open.",
            }[outcome]
        )

        def dec(value):
            return None if value is None else format_decimal(value)

        body = {
            "ok": decision.ok,
            "outcome": outcome,
            "message": message,
            "reason": decision.code,
            "symbol": instrument.symbol,
            "est_price": dec(decision.est_price),
            "est_value": dec(decision.est_value),
            "buying_power": dec(ctx.buying_power),
            "last": dec(ctx.last),
            "bid": dec(ctx.bid),
            "ask": dec(ctx.ask),
            "checks": decision.checks,
        }
        return Response(body)
