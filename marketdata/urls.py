from django.urls import re_path

from marketdata import views

urlpatterns = [
    re_path(r"^watchlist/$", views.watchlist, name="watchlist"),
    re_path(
        r"^instruments/(?P<symbol>[A-Za-z0-9._&-]{1,32})/$",
        views.instrument_detail,
        name="instrument-detail",
    ),
]
