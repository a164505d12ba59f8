"""Pages of strategies (the API's routes are in strategies/api_urls.py)."""

from django.urls import path

from strategies import pages

urlpatterns = [
    path("strategies/", pages.strategy_list, name="strategy-list"),
    path("strategies/order-links/", pages.order_links, name="strategy-order-links"),
    path("strategies/<uuid:strategy_id>/", pages.strategy_detail, name="strategy-detail"),
    path("strategies/<uuid:strategy_id>/pause/", pages.strategy_pause, name="strategy-pause"),
    path(
        "strategies/<uuid:strategy_id>/rotate-secret/",
        pages.strategy_rotate_secret,
        name="strategy-rotate-secret",
    ),
    path("strategies/<uuid:strategy_id>/delete/", pages.strategy_delete, name="strategy-delete"),
]
