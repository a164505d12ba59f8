from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from oms_site.api import api_not_found
from oms_site.health import healthz

api_v1 = [
    path("", include("accounts.api_urls")),
    path("", include("marketdata.api_urls")),
    path("", include("orders.api_urls")),
    path("", include("execution.api_urls")),
    path("", include("pnl.api_urls")),
    path("", include("strategies.api_urls")),
    path("", include("notifications.api_urls")),
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="api-schema"),
    re_path(
        r"^docs/?$", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"
    ),
]


class FaviconRedirect(RedirectView):
    """/favicon.ico, asked for by browsers on pages without an icon link (the back office,
    the API docs): the app's icon, read from static files at request time."""

    permanent = True

    def get_redirect_url(self, *args, **kwargs) -> str:
        return static("img/favicon.svg")


# Django's error pages: the JSON error shape under /api/, the usual HTML pages elsewhere.
handler400 = "oms_site.api_errors.bad_request"
handler403 = "oms_site.api_errors.permission_denied"
handler404 = "oms_site.api_errors.page_not_found"
handler500 = "oms_site.api_errors.server_error_view"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", FaviconRedirect.as_view()),
    path("admin/", admin.site.urls),
    # "/accounts/" is what a user types for their accounts: the trading accounts, not the
    # e-mail settings allauth would show under that prefix.
    path("accounts/", RedirectView.as_view(pattern_name="account-list"), name="accounts-home"),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include(api_v1)),
    re_path(r"^api/v1/", api_not_found),  # unknown API paths: JSON 404 in the error shape
    path("", include("accounts.urls")),
    path("", include("marketdata.urls")),
    path("", include("orders.urls")),
    path("", include("execution.urls")),
    path("", include("pnl.urls")),
    path("", include("strategies.urls")),
    path("", include("notifications.urls")),
]
