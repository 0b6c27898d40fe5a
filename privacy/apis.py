"""REST API of privacy: ending a user's sessions."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdmin, user_of
from privacy.services.sessions import user_sessions_end


class UserSessionsEndView(APIView):
    """Admins: log a user out of every browser session and revoke their API token."""

    permission_classes = [IsAdmin]

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, user_id: int) -> Response:
        user = get_object_or_404(get_user_model(), pk=user_id)
        epoch = user_sessions_end(user=user, by=user_of(request))
        return Response({"id": user.pk, "username": user.get_username(), "session_epoch": epoch})
