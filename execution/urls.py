from django.urls import path

from execution import views

urlpatterns = [
    path("orderbook/", views.orderbook_index_page, name="orderbook-index"),
    path("orderbook/<str:symbol>/", views.orderbook_page, name="orderbook"),
]
