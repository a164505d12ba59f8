"""`GET /api/v1/stream/missed?after=<seq>`: the live pushes a client missed across a drop."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from notifications.selectors import stream_missed
from notifications.serializers import (
    StreamMissedQuerySerializer,
    StreamMissedSerializer,
    StreamPushSerializer,
)

MAX_LIMIT = 1000  # API.md: pages of at most 1000 (a larger limit counts as 1000)


class StreamMissedView(APIView):
    @extend_schema(
        tags=["live stream"],
        operation_id="stream_missed",
        summary="Pushes missed since a seq",
        description=(
            "Every account and notification push on /ws/stream/ carries `seq`, increasing per "
            "user. After a reconnect, ask for what came after the last seq received: the "
            "pushes still kept (OMS_STREAM_RETENTION_SECS, default 600 s, at most "
            "OMS_STREAM_RETENTION_MAX = 1000 per user), oldest first, of accounts the caller "
            "may see now. `complete: false` means some are no longer kept: re-read state "
            "over REST. Quotes and depth are not kept (re-read market data)."
        ),
        parameters=[StreamMissedQuerySerializer],
        responses=StreamMissedSerializer,
    )
    def get(self, request: Request) -> Response:
        query = StreamMissedQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        after = query.validated_data["after"]
        limit = min(query.validated_data["limit"], MAX_LIMIT)
        page = stream_missed(user=request.user, after=after, limit=limit)
        next_url = None
        if page.count > len(page.results):
            next_url = replace_query_param(
                replace_query_param(request.build_absolute_uri(), "after", page.results[-1].seq),
                "limit",
                limit,
            )
        return Response(
            {
                "count": page.count,
                "next": next_url,
                "previous": None,
                "results": StreamPushSerializer(page.results, many=True).data,
                "last_seq": page.last_seq,
                "complete": page.complete,
            }
        )
