"""Pages of pnl."""

from django.urls import path, re_path

from pnl import pages

urlpatterns = [
    path("positions/", pages.positions_page, name="positions"),
    re_path(
        r"^positions/(?P<account_id>[0-9a-fA-F-]{32,36})/(?P<symbol>[A-Za-z0-9._&-]{1,32})/lots/$",
        pages.position_lots_page,
        name="position-lots",
    ),
    path("pnl/", pages.pnl_page, name="pnl"),
    path("pnl/export/fills.csv", pages.export_fills, name="pnl-export-fills"),
    path("pnl/export/matches.csv", pages.export_matches, name="pnl-export-matches"),
    path("pnl/export/daily.csv", pages.export_daily, name="pnl-export-daily"),
]
