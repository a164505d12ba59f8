"""/api/v1/ routes of execution; the trailing slash is optional (API.md)."""

from django.urls import re_path

from execution import api, api_connections, api_kite

urlpatterns = [
    re_path(r"^orderbook/(?P<symbol>[^/]+)/?$", api.OrderBookView.as_view(), name="api-orderbook"),
    re_path(
        r"^accounts/(?P<account_id>[^/]+)/broker/?$",
        api_connections.BrokerStatusView.as_view(),
        name="api-account-broker",
    ),
    re_path(
        r"^accounts/(?P<account_id>[^/]+)/broker/test/?$",
        api_connections.BrokerTestView.as_view(),
        name="api-account-broker-test",
    ),
    re_path(
        r"^accounts/(?P<account_id>[^/]+)/broker/login/?$",
        api_kite.KiteLoginUrlView.as_view(),
        name="api-kite-login",
    ),
    re_path(
        r"^accounts/(?P<account_id>[^/]+)/broker/session/?$",
        api_kite.KiteSessionView.as_view(),
        name="api-kite-session",
    ),
    re_path(
        r"^brokers/kite/postback/(?P<account_id>[^/]+)/?$",
        api_kite.KitePostbackView.as_view(),
        name="api-kite-postback",
    ),
]
