"""REST API of the statistics (agreement and quality figures)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAnyRole
from api.http import bad_request
from quality.services import RETRY_AFTER_SECONDS, statistics_stored_for_user
from quality.statistics import CURRENT_GOLD, StatisticsQueryInvalid


class StatisticsView(APIView):
    """Agreement and quality figures, computed in the background (never on this
    request) and filtered by role in `quality.statistics.statistics_visible_to`.
    `computed_at` and `age_seconds` say how fresh they are; `stale` that the data
    changed since and new figures are being computed. 202 with Retry-After while
    the figures of this view have never been computed."""

    permission_classes = [IsAnyRole]

    @extend_schema(parameters=[OpenApiParameter("mapping", str), OpenApiParameter("gold", str), OpenApiParameter("split", str)],
                   responses={200: OpenApiTypes.OBJECT,
                              202: OpenApiResponse(OpenApiTypes.OBJECT, description="Being computed: ask again after Retry-After seconds.")})
    def get(self, request: Request) -> Response:
        q = request.query_params
        try:
            stats = statistics_stored_for_user(user=request.user, mapping=q.get("mapping", "full"),
                                               gold_version=q.get("gold", CURRENT_GOLD), split=q.get("split", "all"))
        except StatisticsQueryInvalid as exc:
            raise bad_request(str(exc)) from None
        if stats is None:
            return Response({"status": "pending", "detail": "The statistics are being computed; ask again shortly."},
                            status=202, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        return Response(stats)
