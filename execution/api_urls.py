"""/api/v1/ routes of execution; the trailing slash is optional (API.md)."""

from django.urls import re_path

from execution import api

urlpatterns = [
    re_path(r"^orderbook/(?P<symbol>[^/]+)/?$", api.OrderBookView.as_view(), name="api-orderbook"),
]
