"""REST API of accounts: API tokens, users, their roles, deactivation and
password resets. Thin adapters: validate, call `accounts.services` /
`accounts.selectors`, serialize."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import IsAdmin, user_of
from accounts.roles import Role
from accounts.selectors import user_roles, users_with_roles
from accounts.services import user_create_or_update, user_deactivate, user_password_set, user_role_add, user_role_remove

ROLE_CHOICES = [r.value for r in Role]


class UserCreateSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]{1,150}$")
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)  # validators: the service
    roles = serializers.ListField(child=serializers.ChoiceField(choices=ROLE_CHOICES), allow_empty=False)


class RoleChangeSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLE_CHOICES)
    action = serializers.ChoiceField(choices=["add", "remove"])
    confirm = serializers.BooleanField(default=False, help_text="required to remove your own admin role")


class PasswordSetSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)


def _user_body(user: AbstractBaseUser) -> dict[str, object]:
    return {"id": user.pk, "username": user.get_username(), "is_active": user.is_active,
            "roles": sorted(r.value for r in user_roles(user=user))}


class TokenView(ObtainAuthToken):
    """Exchange username + password for an API token.

    Django's `authenticate` gets the Django request, so sign-in lockout
    (`accounts.lockout`, django-axes) counts the failures and its middleware
    answers a locked-out request with 429 `{"detail", "code": "throttled"}`."""

    permission_classes = [AllowAny]

    def get_serializer_context(self) -> dict[str, object]:
        return {**super().get_serializer_context(), "request": self.request._request}


class UserListView(GenericAPIView):
    """Admins: users and their roles; POST creates a user (or adds roles to one)."""

    permission_classes = [IsAdmin]
    serializer_class = UserCreateSerializer

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        rows = users_with_roles()
        page = self.paginate_queryset(rows)
        return self.get_paginated_response([{"id": u.pk, "username": u.get_username(), "roles": roles} for u, roles in page or []])

    @extend_schema(request=UserCreateSerializer, responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT})  # 200: existing user
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
            # 409 last_admin; 400 confirmation_required for one's own admin role without `confirm`
            user_role_remove(user=user, role=role, by=user_of(request), confirmed=body.validated_data["confirm"])
        return Response({"id": user.pk, "username": user.get_username(), "roles": sorted(r.value for r in user_roles(user=user))})


class UserDeactivateView(GenericAPIView):
    """Admins: deactivate a user: no more sign-ins, sessions and API token end,
    reservations released at once (audited; 409 `last_admin` for the last active admin)."""

    permission_classes = [IsAdmin]

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, user_id: int) -> Response:
        user = get_object_or_404(get_user_model(), pk=user_id)
        user_deactivate(user=user, by=user_of(request))
        user.refresh_from_db()
        return Response(_user_body(user))


class UserPasswordView(GenericAPIView):
    """Admins: set a new password for a user (validated: 400 `weak_password`; audited)."""

    permission_classes = [IsAdmin]
    serializer_class = PasswordSetSerializer

    @extend_schema(request=PasswordSetSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, user_id: int) -> Response:
        user = get_object_or_404(get_user_model(), pk=user_id)
        body = PasswordSetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user_password_set(user=user, password=body.validated_data["password"], by=user_of(request))
        return Response(_user_body(user))
