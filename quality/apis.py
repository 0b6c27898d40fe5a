"""REST API of the statistics (agreement and quality figures)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAnyRole
from api.http import bad_request
from quality.statistics import CURRENT_GOLD, StatisticsQueryInvalid, statistics_for_user


class StatisticsView(APIView):
    """Agreement and quality figures (cached up to 2 minutes while labels change),
    filtered by role in `quality.statistics.statistics_for_user`."""

    permission_classes = [IsAnyRole]

    @extend_schema(parameters=[OpenApiParameter("mapping", str), OpenApiParameter("gold", str), OpenApiParameter("split", str)],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        q = request.query_params
        try:
            stats = statistics_for_user(user=request.user, mapping=q.get("mapping", "full"), gold_version=q.get("gold", CURRENT_GOLD),
                                        split=q.get("split", "all"), max_stale_seconds=120)
        except StatisticsQueryInvalid as exc:
            raise bad_request(str(exc)) from None
        return Response(stats)
