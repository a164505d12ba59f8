"""Pages of accounts. `/accounts/` belongs to allauth, so trading accounts live elsewhere."""

from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("trading-accounts/", views.account_list, name="account-list"),
    path("trading-accounts/new/", views.account_create, name="account-create"),
    path("trading-accounts/connect/<slug:broker>/", views.broker_connect, name="broker-connect"),
    path("trading-accounts/<uuid:account_id>/", views.account_detail, name="account-detail"),
    path(
        "trading-accounts/<uuid:account_id>/broker/",
        views.account_broker,
        name="account-broker",
    ),
    path("trading-accounts/<uuid:account_id>/edit/", views.account_edit, name="account-edit"),
    path(
        "trading-accounts/<uuid:account_id>/risk-limits/",
        views.account_risk_limits_edit,
        name="account-risk-limits-edit",
    ),
    path("api-keys/", views.api_key_list, name="api-key-list"),
    path("api-keys/<uuid:key_id>/revoke/", views.api_key_revoke, name="api-key-revoke"),
]
