"""REST endpoints of pnl. Thin: parse, call one selector, shape."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from oms_site.errors import ValidationFailed
from pnl import selectors
from pnl.models import Fill
from pnl.serializers import FillSerializer


def _uuid_param(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise ValidationFailed(
            f"{name}: not a valid id.", fields={name: ["Not a valid id."]}
        ) from exc


class FillListView(GenericAPIView):
    serializer_class = FillSerializer
    queryset = Fill.objects.none()  # schema only; reads go through selectors

    @extend_schema(
        summary="Fills of the accounts the caller may see, newest first",
        parameters=[
            OpenApiParameter("account", str, description="Account id"),
            OpenApiParameter("symbol", str, description="Instrument symbol"),
            OpenApiParameter("order", str, description="Order id"),
        ],
        responses={
            200: FillSerializer(many=True),
            400: OpenApiResponse(description="validation_error"),
            401: OpenApiResponse(description="not_authenticated"),
        },
    )
    def get(self, request: Request) -> Response:
        filters = {
            "account": _uuid_param(request, "account"),
            "order": _uuid_param(request, "order"),
            "symbol": request.query_params.get("symbol") or None,
        }
        page = self.paginate_queryset(selectors.fill_list(user=request.user, filters=filters))
        return self.get_paginated_response(FillSerializer(page, many=True).data)
