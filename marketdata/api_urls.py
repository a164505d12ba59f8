from django.urls import re_path

from marketdata import api

SYMBOL = r"(?P<symbol>[A-Za-z0-9._&-]{1,32})"

urlpatterns = [
    re_path(r"^instruments/?$", api.InstrumentListCreateView.as_view(), name="api-instrument-list"),
    re_path(
        rf"^instruments/{SYMBOL}/?$",
        api.InstrumentDetailView.as_view(),
        name="api-instrument-detail",
    ),
    re_path(r"^market-data/?$", api.MarketDataView.as_view(), name="api-market-data"),
    re_path(r"^market-data/ticks/?$", api.TickPushView.as_view(), name="api-market-data-ticks"),
    re_path(rf"^market-data/{SYMBOL}/bars/?$", api.BarsView.as_view(), name="api-market-data-bars"),
    re_path(r"^watchlist/?$", api.WatchlistView.as_view(), name="api-watchlist"),
    re_path(rf"^watchlist/{SYMBOL}/?$", api.WatchlistItemView.as_view(), name="api-watchlist-item"),
]
