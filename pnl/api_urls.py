"""/api/v1/ routes of pnl; the trailing slash is optional everywhere (API.md)."""

from django.urls import re_path

from pnl import views

urlpatterns = [
    re_path(r"^fills/?$", views.FillListView.as_view(), name="api-fill-list"),
    re_path(r"^positions/?$", views.PositionListView.as_view(), name="api-position-list"),
    re_path(r"^positions/close/?$", views.PositionCloseView.as_view(), name="api-position-close"),
    re_path(r"^pnl/?$", views.PnlView.as_view(), name="api-pnl"),
    re_path(r"^pnl/snapshots/?$", views.PnlSnapshotView.as_view(), name="api-pnl-snapshots"),
]
