"""Pages of orders."""

from django.urls import path

from orders.pages import automation as pages_automation
from orders.pages import orders as pages

urlpatterns = [
    path("orders/", pages.order_blotter, name="order-blotter"),
    path("orders/ticket/", pages.order_ticket, name="order-ticket"),
    path("orders/<uuid:order_id>/", pages.order_detail, name="order-detail"),
    path("gtt/", pages_automation.gtt_list, name="gtt-list"),
    path("schedules/", pages_automation.schedule_list, name="schedule-list"),
]
