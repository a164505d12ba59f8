"""Pages of orders."""

from django.urls import path

from orders import pages

urlpatterns = [
    path("orders/", pages.order_blotter, name="order-blotter"),
    path("orders/ticket/", pages.order_ticket, name="order-ticket"),
    path("orders/<uuid:order_id>/", pages.order_detail, name="order-detail"),
]
