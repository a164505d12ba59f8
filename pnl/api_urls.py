"""/api/v1/ routes of pnl; the trailing slash is optional everywhere (API.md)."""

from django.urls import re_path

from pnl import views

urlpatterns = [
    re_path(r"^fills/?$", views.FillListView.as_view(), name="api-fill-list"),
]
