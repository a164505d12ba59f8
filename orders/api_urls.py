"""/api/v1/ routes of orders; the trailing slash is optional everywhere (API.md)."""

from django.urls import re_path

from orders import views

urlpatterns = [
    re_path(r"^orders/?$", views.OrderListCreateView.as_view(), name="api-order-list"),
    re_path(r"^orders/batch/?$", views.OrderBatchView.as_view(), name="api-order-batch"),
    re_path(r"^orders/preview/?$", views.OrderPreviewView.as_view(), name="api-order-preview"),
    re_path(
        r"^orders/(?P<order_id>[^/]+)/events/?$",
        views.OrderEventsView.as_view(),
        name="api-order-events",
    ),
    re_path(
        r"^orders/(?P<order_id>[^/]+)/?$", views.OrderDetailView.as_view(), name="api-order-detail"
    ),
]
