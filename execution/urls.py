from django.urls import path

from execution import views, views_kite

urlpatterns = [
    path("orderbook/", views.orderbook_index_page, name="orderbook-index"),
    path("orderbook/<str:symbol>/", views.orderbook_page, name="orderbook"),
    path(
        "trading-accounts/<uuid:account_id>/kite/login/",
        views_kite.kite_login_page,
        name="kite-login",
    ),
    path("brokers/kite/callback/", views_kite.kite_callback_page, name="kite-callback"),
]
