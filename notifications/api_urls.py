from django.urls import re_path

from notifications.api import NotificationViewSet
from notifications.api_delivery import (
    DeliveryListView,
    NotificationPreferencesView,
    WebhookDeliveriesView,
    WebhookDetailView,
    WebhookListCreateView,
    WebhookRotateSecretView,
    WebhookTestView,
)
from notifications.api_stream import StreamMissedView
from oms_site.api import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = [
    *router.urls,
    re_path(r"^stream/missed/?$", StreamMissedView.as_view(), name="stream-missed"),
    re_path(
        r"^notification-preferences/?$",
        NotificationPreferencesView.as_view(),
        name="notification-preferences",
    ),
    re_path(
        r"^notification-deliveries/?$", DeliveryListView.as_view(), name="notification-deliveries"
    ),
    re_path(r"^webhooks/?$", WebhookListCreateView.as_view(), name="webhook-list"),
    re_path(
        r"^webhooks/(?P<webhook_id>[^/]+)/?$", WebhookDetailView.as_view(), name="webhook-detail"
    ),
    re_path(
        r"^webhooks/(?P<webhook_id>[^/]+)/test/?$", WebhookTestView.as_view(), name="webhook-test"
    ),
    re_path(
        r"^webhooks/(?P<webhook_id>[^/]+)/rotate-secret/?$",
        WebhookRotateSecretView.as_view(),
        name="webhook-rotate-secret",
    ),
    re_path(
        r"^webhooks/(?P<webhook_id>[^/]+)/deliveries/?$",
        WebhookDeliveriesView.as_view(),
        name="webhook-deliveries",
    ),
]
