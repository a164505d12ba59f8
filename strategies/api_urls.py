"""/api/v1/ routes of strategies; the trailing slash is optional everywhere (API.md)."""

from django.urls import re_path

from strategies import api

urlpatterns = [
    re_path(r"^strategies/?$", api.StrategyListCreateView.as_view(), name="api-strategy-list"),
    re_path(
        r"^strategies/(?P<strategy_id>[^/]+)/signals/?$",
        api.StrategySignalsView.as_view(),
        name="api-strategy-signals",
    ),
    re_path(
        r"^strategies/(?P<strategy_id>[^/]+)/pause/?$",
        api.StrategyPauseView.as_view(),
        name="api-strategy-pause",
    ),
    re_path(
        r"^strategies/(?P<strategy_id>[^/]+)/resume/?$",
        api.StrategyResumeView.as_view(),
        name="api-strategy-resume",
    ),
    re_path(
        r"^strategies/(?P<strategy_id>[^/]+)/rotate-secret/?$",
        api.StrategyRotateSecretView.as_view(),
        name="api-strategy-rotate-secret",
    ),
    re_path(
        r"^strategies/(?P<strategy_id>[^/]+)/?$",
        api.StrategyDetailView.as_view(),
        name="api-strategy-detail",
    ),
    # GET: a signal (owner); POST: the webhook of the strategy with this id.
    re_path(r"^signals/(?P<signal_id>[^/]+)/?$", api.SignalView.as_view(), name="api-signal"),
]
