"""REST endpoints: notification preferences, webhooks and the delivery log (API.md §
Notifications). Thin: parse, call one service or selector, shape."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.idempotency import IDEMPOTENCY_PARAMETER, idempotent_post
from notifications import selectors_delivery as selectors
from notifications import services_delivery as services
from notifications.models import Delivery, DeliveryChannel, DeliveryStatus, WebhookEndpoint
from notifications.preferences import preferences_as_json
from notifications.serializers_delivery import (
    DeliverySerializer,
    NotificationPreferencesSerializer,
    WebhookInputSerializer,
    WebhookSerializer,
    WebhookWithSecretSerializer,
)
from oms_site.errors import ValidationFailed

_WEBHOOK_ID = OpenApiParameter("webhook_id", str, OpenApiParameter.PATH, description="Webhook id")
_TAGS = ["notifications"]


class NotificationPreferencesView(GenericAPIView):
    serializer_class = NotificationPreferencesSerializer

    @extend_schema(tags=_TAGS, summary="The caller's notification preferences (with defaults)")
    def get(self, request: Request) -> Response:
        return Response(preferences_as_json(selectors.preferences_get(user=request.user)))

    @extend_schema(
        tags=_TAGS,
        summary="Change them; keys left out keep their value (an event left out of channels too)",
        request=NotificationPreferencesSerializer,
        responses={200: NotificationPreferencesSerializer},
    )
    def put(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise ValidationFailed("The body must be a JSON object.")
        services.preferences_update(user=request.user, data=request.data)
        return Response(preferences_as_json(selectors.preferences_get(user=request.user)))


class WebhookListCreateView(GenericAPIView):
    serializer_class = WebhookSerializer
    queryset = WebhookEndpoint.objects.none()

    @extend_schema(
        tags=_TAGS,
        operation_id="webhooks_list",
        summary="The caller's webhook endpoints",
        responses={200: WebhookSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.webhook_list(user=request.user))
        return self.get_paginated_response(WebhookSerializer(page, many=True).data)

    @extend_schema(
        tags=_TAGS,
        summary="Add an endpoint; the answer shows its signing secret once",
        description=(
            "Each delivery is `POST <url>` with JSON {id, event, created_at, data} and header "
            'X-OMS-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">; the same id '
            "on every retry. URLs resolving to private or loopback addresses are refused "
            "(400) unless the server allows them (OMS_WEBHOOK_ALLOW_PRIVATE)."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=WebhookInputSerializer,
        responses={201: WebhookWithSecretSerializer},
    )
    @idempotent_post(redact=("secret",))
    def post(self, request: Request) -> Response:
        serializer = WebhookInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = services.webhook_create(user=request.user, **serializer.validated_data)
        return Response(_with_secret(issued), status=201)


def _with_secret(issued: services.IssuedWebhook) -> dict:
    return {**WebhookSerializer(issued.endpoint).data, "secret": issued.secret}


class WebhookDetailView(GenericAPIView):
    serializer_class = WebhookSerializer
    queryset = WebhookEndpoint.objects.none()

    @extend_schema(tags=_TAGS, summary="One webhook endpoint", parameters=[_WEBHOOK_ID])
    def get(self, request: Request, webhook_id: str) -> Response:
        endpoint = selectors.webhook_get(user=request.user, webhook_id=webhook_id)
        return Response(WebhookSerializer(endpoint).data)

    @extend_schema(
        tags=_TAGS,
        operation_id="webhooks_delete",
        summary="Delete an endpoint (nothing more is sent to it)",
        parameters=[_WEBHOOK_ID],
        request=None,
        responses={204: OpenApiResponse(description="deleted")},
    )
    def delete(self, request: Request, webhook_id: str) -> Response:
        services.webhook_delete(user=request.user, webhook_id=webhook_id)
        return Response(status=204)


class WebhookTestView(GenericAPIView):
    serializer_class = DeliverySerializer
    queryset = Delivery.objects.none()

    @extend_schema(
        tags=_TAGS,
        summary="Send a signed `webhook.test` event now (re-enables a disabled endpoint)",
        parameters=[_WEBHOOK_ID, IDEMPOTENCY_PARAMETER],
        request=None,
        responses={202: DeliverySerializer},
    )
    @idempotent_post()
    def post(self, request: Request, webhook_id: str) -> Response:
        delivery = services.webhook_test(user=request.user, webhook_id=webhook_id)
        return Response(DeliverySerializer(delivery).data, status=202)


class WebhookRotateSecretView(GenericAPIView):
    serializer_class = WebhookWithSecretSerializer
    queryset = WebhookEndpoint.objects.none()

    @extend_schema(
        tags=_TAGS,
        summary="A new signing secret (shown once); the old one signs nothing more",
        parameters=[_WEBHOOK_ID, IDEMPOTENCY_PARAMETER],
        request=None,
        responses={200: WebhookWithSecretSerializer},
    )
    @idempotent_post(redact=("secret",))
    def post(self, request: Request, webhook_id: str) -> Response:
        issued = services.webhook_rotate_secret(user=request.user, webhook_id=webhook_id)
        return Response(_with_secret(issued))


class WebhookDeliveriesView(GenericAPIView):
    serializer_class = DeliverySerializer
    queryset = Delivery.objects.none()

    @extend_schema(
        tags=_TAGS,
        summary="Deliveries to this endpoint, newest first",
        parameters=[_WEBHOOK_ID],
        responses={200: DeliverySerializer(many=True)},
    )
    def get(self, request: Request, webhook_id: str) -> Response:
        endpoint = selectors.webhook_get(user=request.user, webhook_id=webhook_id)
        page = self.paginate_queryset(selectors.delivery_list(user=request.user, webhook=endpoint))
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)


class DeliveryListView(GenericAPIView):
    serializer_class = DeliverySerializer
    queryset = Delivery.objects.none()

    @extend_schema(
        tags=_TAGS,
        summary="The caller's delivery log (email, webhook, chat), newest first",
        parameters=[
            OpenApiParameter(
                "channel", str, enum=[c for c in DeliveryChannel.values if c != "in_app"]
            ),
            OpenApiParameter("status", str, enum=DeliveryStatus.values),
        ],
        responses={200: DeliverySerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        channel = request.query_params.get("channel") or None
        status = request.query_params.get("status") or None
        errors = {}
        if channel is not None and channel not in DeliveryChannel.values:
            errors["channel"] = [f"One of {', '.join(DeliveryChannel.values)}."]
        if status is not None and status not in DeliveryStatus.values:
            errors["status"] = [f"One of {', '.join(DeliveryStatus.values)}."]
        if errors:
            raise ValidationFailed("Bad filter.", fields=errors)
        page = self.paginate_queryset(
            selectors.delivery_list(user=request.user, channel=channel, status=status)
        )
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)
