"""/api/v1/ routes of accounts; the trailing slash is optional everywhere (API.md)."""

from django.urls import re_path

from accounts import api_views

urlpatterns = [
    re_path(r"^accounts/?$", api_views.AccountListCreateView.as_view(), name="api-account-list"),
    re_path(
        r"^accounts/(?P<account_id>[^/]+)/risk-limits/?$",
        api_views.RiskLimitsView.as_view(),
        name="api-account-risk-limits",
    ),
    re_path(
        r"^accounts/(?P<account_id>[^/]+)/?$",
        api_views.AccountDetailView.as_view(),
        name="api-account-detail",
    ),
    re_path(r"^api-keys/?$", api_views.ApiKeyListCreateView.as_view(), name="api-key-list-api"),
    re_path(
        r"^api-keys/(?P<key_id>[^/]+)/?$",
        api_views.ApiKeyDetailView.as_view(),
        name="api-key-detail-api",
    ),
    re_path(r"^me/?$", api_views.MeView.as_view(), name="api-me"),
]
