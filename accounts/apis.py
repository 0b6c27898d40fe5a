"""REST API of accounts: API tokens, users and their roles. Thin adapters:
validate, call `accounts.services` / `accounts.selectors`, serialize."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import IsAdmin
from accounts.roles import Role
from accounts.selectors import user_roles, users_with_roles
from accounts.services import user_create_or_update, user_role_add, user_role_remove
from accounts.throttling import TokenRateThrottle

ROLE_CHOICES = [r.value for r in Role]


class UserCreateSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]{1,150}$")
    password = serializers.CharField(min_length=8, max_length=128, write_only=True)
    roles = serializers.ListField(child=serializers.ChoiceField(choices=ROLE_CHOICES), allow_empty=False)


class RoleChangeSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLE_CHOICES)
    action = serializers.ChoiceField(choices=["add", "remove"])


class TokenView(ObtainAuthToken):
    """Exchange username + password for an API token (throttled)."""

    throttle_classes = [TokenRateThrottle]
    permission_classes = [AllowAny]


class UserListView(GenericAPIView):
    """Admins: users and their roles; POST creates a user (or adds roles to one)."""

    permission_classes = [IsAdmin]
    serializer_class = UserCreateSerializer

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        rows = users_with_roles()
        page = self.paginate_queryset(rows)
        return self.get_paginated_response([{"id": u.pk, "username": u.get_username(), "roles": roles} for u, roles in page or []])

    @extend_schema(request=UserCreateSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        body = UserCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user, created = user_create_or_update(username=body.validated_data["username"], password=body.validated_data["password"],
                                              roles=[Role(r) for r in body.validated_data["roles"]])
        return Response({"id": user.pk, "username": user.get_username(), "roles": sorted(r.value for r in user_roles(user=user)),
                         "created": created}, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class UserRolesView(GenericAPIView):
    """Admins: add or remove one role of a user (recorded in the audit history)."""

    permission_classes = [IsAdmin]
    serializer_class = RoleChangeSerializer

    @extend_schema(request=RoleChangeSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, user_id: int) -> Response:
        user = get_object_or_404(get_user_model(), pk=user_id)
        body = RoleChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        role = Role(body.validated_data["role"])
        if body.validated_data["action"] == "add":
            user_role_add(user=user, role=role)
        else:
            user_role_remove(user=user, role=role)
        return Response({"id": user.pk, "username": user.get_username(), "roles": sorted(r.value for r in user_roles(user=user))})
