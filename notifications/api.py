"""REST endpoints for the caller's own in-app notifications."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.idempotency import IDEMPOTENCY_PARAMETER, idempotent_post
from notifications import selectors, services
from notifications.models import Notification
from notifications.serializers import (
    NotificationSerializer,
    ReadAllResultSerializer,
    UnreadCountSerializer,
)
from oms_site.parsing import query_bool


@extend_schema(tags=["notifications"])
class NotificationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = NotificationSerializer
    lookup_value_regex = r"[^/]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Notification.objects.none()
        unread = query_bool(self.request.query_params, "unread")
        return selectors.notification_list(user=self.request.user, unread=unread)

    def get_object(self):
        return selectors.notification_get(user=self.request.user, notification_id=self.kwargs["pk"])

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "unread", OpenApiTypes.BOOL, description="1 → only unread notifications"
            )
        ]
    )
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        parameters=[IDEMPOTENCY_PARAMETER], request=None, responses=NotificationSerializer
    )
    @action(detail=True, methods=["post"])
    @idempotent_post()
    def read(self, request: Request, pk: str) -> Response:
        notification = services.notification_mark_read(user=request.user, notification_id=pk)
        return Response(NotificationSerializer(notification).data)

    @extend_schema(
        parameters=[IDEMPOTENCY_PARAMETER], request=None, responses=ReadAllResultSerializer
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    @idempotent_post()
    def read_all(self, request: Request) -> Response:
        updated = services.notification_mark_all_read(user=request.user)
        unread = selectors.notification_unread_count(user=request.user)
        return Response({"updated": updated, "unread": unread})

    @extend_schema(responses=UnreadCountSerializer)
    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request: Request) -> Response:
        return Response({"unread": selectors.notification_unread_count(user=request.user)})
