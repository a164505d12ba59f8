"""Content negotiation of the API (REST_FRAMEWORK DEFAULT_CONTENT_NEGOTIATION_CLASS).

Its own module: DRF reads the setting while `rest_framework.views` is imported, which
oms_site.api itself imports."""

from __future__ import annotations

from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation


class LenientContentNegotiation(DefaultContentNegotiation):
    """A `format` query parameter naming none of the view's renderers is ignored, like any
    unknown parameter: the answer is negotiated as if it were absent (DRF: a 404)."""

    def filter_renderers(self, renderers: list[Any], format: str) -> list[Any]:
        return [renderer for renderer in renderers if renderer.format == format] or renderers
