"""REST endpoints of automation: GTT (API.md § GTT), algo pause/resume, scheduled orders.
Thin: parse, call one service, shape."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.idempotency import IDEMPOTENCY_PARAMETER, idempotent_post
from orders.api.common import ORDER_ID_PARAMETER, error_responses, request_api_key
from orders.automation import algo_runner as services_algo
from orders.automation import gtt as services_gtt
from orders.automation import scheduled as services_schedule
from orders.automation import selectors
from orders.automation.serializers import (
    GttEventSerializer,
    GttInputSerializer,
    GttModifySerializer,
    GttSerializer,
    ScheduleInputSerializer,
    ScheduleSerializer,
)
from orders.core.serializers import OrderSerializer
from orders.models import Gtt, GttStatus, Order, ScheduledOrder

_GTT_ID = OpenApiParameter("gtt_id", str, OpenApiParameter.PATH, description="GTT id")
_SCHEDULE_ID = OpenApiParameter(
    "schedule_id", str, OpenApiParameter.PATH, description="Schedule id"
)


class GttListCreateView(GenericAPIView):
    serializer_class = GttSerializer
    queryset = Gtt.objects.none()

    @extend_schema(
        summary="GTTs of the accounts the caller may see, newest first",
        parameters=[
            OpenApiParameter("account", str),
            OpenApiParameter("symbol", str),
            OpenApiParameter(
                "status", str, enum=["open", "all", *GttStatus.values], description="open = active"
            ),
        ],
        responses={200: GttSerializer(many=True), **error_responses(400, 401)},
    )
    def get(self, request: Request) -> Response:
        filters = {k: request.query_params.get(k) for k in ("account", "symbol", "status")}
        page = self.paginate_queryset(selectors.gtt_list(user=request.user, filters=filters))
        return self.get_paginated_response(GttSerializer(page, many=True).data)

    @extend_schema(
        summary="Create a GTT (single or oco)",
        description=(
            "A trigger below the last price fires when last <= value, above it when "
            "last >= value; it fires exactly once and places its order through every risk "
            "check (a refused placement marks the GTT rejected with the reason). oco: "
            "[lower, upper] values and [stop-loss order, target order]; whichever fires "
            "first places its order and cancels the other. Default expiry: one year."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=GttInputSerializer,
        responses={201: GttSerializer, **error_responses(400, 401, 403)},
    )
    @idempotent_post()
    def post(self, request: Request) -> Response:
        serializer = GttInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        gtt = services_gtt.gtt_create(
            user=request.user, api_key=request_api_key(request), **serializer.to_service_kwargs()
        )
        return Response(GttSerializer(gtt).data, status=201)


class GttDetailView(GenericAPIView):
    serializer_class = GttSerializer
    queryset = Gtt.objects.none()

    @extend_schema(
        summary="One GTT",
        parameters=[_GTT_ID],
        responses={200: GttSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, gtt_id: str) -> Response:
        gtt = selectors.gtt_get_for_user(user=request.user, gtt_id=gtt_id)
        return Response(GttSerializer(gtt).data)

    @extend_schema(
        operation_id="gtt_modify",
        summary="Modify an active GTT (trigger values, orders, expiry)",
        parameters=[_GTT_ID],
        request=GttModifySerializer,
        responses={200: GttSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def patch(self, request: Request, gtt_id: str) -> Response:
        serializer = GttModifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        gtt = services_gtt.gtt_modify(
            user=request.user,
            api_key=request_api_key(request),
            gtt_id=gtt_id,
            **serializer.validated_data,
        )
        return Response(GttSerializer(gtt).data)

    @extend_schema(
        operation_id="gtt_cancel",
        summary="Cancel an active GTT (status cancelled)",
        parameters=[_GTT_ID],
        request=None,
        responses={200: GttSerializer, **error_responses(401, 403, 404, 409)},
    )
    def delete(self, request: Request, gtt_id: str) -> Response:
        gtt = services_gtt.gtt_cancel(
            user=request.user, api_key=request_api_key(request), gtt_id=gtt_id
        )
        return Response(GttSerializer(gtt).data)


class GttEventsView(GenericAPIView):
    serializer_class = GttEventSerializer
    queryset = Gtt.objects.none()

    @extend_schema(
        summary="A GTT's status history, oldest first",
        parameters=[_GTT_ID],
        responses={200: GttEventSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request: Request, gtt_id: str) -> Response:
        gtt = selectors.gtt_get_for_user(user=request.user, gtt_id=gtt_id)
        page = self.paginate_queryset(selectors.gtt_events(gtt=gtt))
        return self.get_paginated_response(GttEventSerializer(page, many=True).data)


class OrderPauseView(GenericAPIView):
    serializer_class = OrderSerializer
    queryset = Order.objects.none()

    @extend_schema(
        operation_id="orders_algo_pause",
        summary="Pause an algo parent: no new children, working children withdrawn",
        parameters=[ORDER_ID_PARAMETER, IDEMPOTENCY_PARAMETER],
        request=None,
        responses={200: OrderSerializer, **error_responses(401, 403, 404, 409)},
    )
    @idempotent_post()
    def post(self, request: Request, order_id: str) -> Response:
        order = services_algo.algo_pause(
            user=request.user, api_key=request_api_key(request), order_id=order_id
        )
        return Response(OrderSerializer(order).data)


class OrderResumeView(GenericAPIView):
    serializer_class = OrderSerializer
    queryset = Order.objects.none()

    @extend_schema(
        operation_id="orders_algo_resume",
        summary="Resume a paused algo parent (its schedule shifts by the pause)",
        parameters=[ORDER_ID_PARAMETER, IDEMPOTENCY_PARAMETER],
        request=None,
        responses={200: OrderSerializer, **error_responses(401, 403, 404, 409)},
    )
    @idempotent_post()
    def post(self, request: Request, order_id: str) -> Response:
        order = services_algo.algo_resume(
            user=request.user, api_key=request_api_key(request), order_id=order_id
        )
        return Response(OrderSerializer(order).data)


class ScheduleListCreateView(GenericAPIView):
    serializer_class = ScheduleSerializer
    queryset = ScheduledOrder.objects.none()

    @extend_schema(
        summary="Scheduled orders of the accounts the caller may see",
        parameters=[OpenApiParameter("account", str)],
        responses={200: ScheduleSerializer(many=True), **error_responses(400, 401)},
    )
    def get(self, request: Request) -> Response:
        filters = {"account": request.query_params.get("account")}
        rows = selectors.scheduled_order_list(user=request.user, filters=filters)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(ScheduleSerializer(page, many=True).data)

    @extend_schema(
        summary="Schedule an order: once at run_at, or on a cron schedule",
        parameters=[IDEMPOTENCY_PARAMETER],
        request=ScheduleInputSerializer,
        responses={201: ScheduleSerializer, **error_responses(400, 401, 403)},
    )
    @idempotent_post()
    def post(self, request: Request) -> Response:
        serializer = ScheduleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = services_schedule.scheduled_order_save(
            user=request.user, **serializer.to_service_kwargs()
        )
        return Response(ScheduleSerializer(row).data, status=201)


class ScheduleDetailView(GenericAPIView):
    serializer_class = ScheduleSerializer
    queryset = ScheduledOrder.objects.none()

    @extend_schema(
        summary="One scheduled order",
        parameters=[_SCHEDULE_ID],
        responses={200: ScheduleSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, schedule_id: str) -> Response:
        row = selectors.scheduled_order_get_for_user(user=request.user, schedule_id=schedule_id)
        return Response(ScheduleSerializer(row).data)

    @extend_schema(
        operation_id="schedules_update",
        summary="Change a scheduled order (name, order, timing, enabled)",
        parameters=[_SCHEDULE_ID],
        request=ScheduleInputSerializer,
        responses={200: ScheduleSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request: Request, schedule_id: str) -> Response:
        serializer = ScheduleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = services_schedule.scheduled_order_save(
            user=request.user, schedule_id=schedule_id, **serializer.to_service_kwargs()
        )
        return Response(ScheduleSerializer(row).data)

    @extend_schema(
        operation_id="schedules_delete",
        summary="Delete a scheduled order (and its beat task)",
        parameters=[_SCHEDULE_ID],
        request=None,
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request: Request, schedule_id: str) -> Response:
        services_schedule.scheduled_order_delete(user=request.user, schedule_id=schedule_id)
        return Response(status=204)
