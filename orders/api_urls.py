"""/api/v1/ routes of orders; the trailing slash is optional everywhere (API.md)."""

from django.urls import re_path

from orders.api import automation as views_automation
from orders.api import orders as views

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
        r"^orders/(?P<order_id>[^/]+)/pause/?$",
        views_automation.OrderPauseView.as_view(),
        name="api-order-pause",
    ),
    re_path(
        r"^orders/(?P<order_id>[^/]+)/resume/?$",
        views_automation.OrderResumeView.as_view(),
        name="api-order-resume",
    ),
    re_path(
        r"^orders/(?P<order_id>[^/]+)/?$", views.OrderDetailView.as_view(), name="api-order-detail"
    ),
    re_path(r"^gtt/?$", views_automation.GttListCreateView.as_view(), name="api-gtt-list"),
    re_path(
        r"^gtt/(?P<gtt_id>[^/]+)/events/?$",
        views_automation.GttEventsView.as_view(),
        name="api-gtt-events",
    ),
    re_path(
        r"^gtt/(?P<gtt_id>[^/]+)/?$",
        views_automation.GttDetailView.as_view(),
        name="api-gtt-detail",
    ),
    re_path(
        r"^schedules/?$",
        views_automation.ScheduleListCreateView.as_view(),
        name="api-schedule-list",
    ),
    re_path(
        r"^schedules/(?P<schedule_id>[^/]+)/?$",
        views_automation.ScheduleDetailView.as_view(),
        name="api-schedule-detail",
    ),
]
